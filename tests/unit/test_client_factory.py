"""Client factories share one boto3 session but never each other's credentials."""

from __future__ import annotations

from vell_core.aws.clients import ClientFactory, StaticCredentials


def test_sibling_factories_share_the_session_and_keep_their_own_keys() -> None:
    partner = ClientFactory(region="us-east-1", endpoint_url="http://127.0.0.1:9")
    alice = partner.with_credentials(StaticCredentials("AKIAALICE", "alice-secret", "tok-a"))
    bob = partner.with_credentials(StaticCredentials("AKIABOB", "bob-secret"))
    a, b = alice.client("marketplace-catalog"), bob.client("marketplace-catalog")
    assert a is not b
    assert a._request_signer._credentials.access_key == "AKIAALICE"
    assert a._request_signer._credentials.token == "tok-a"
    assert b._request_signer._credentials.access_key == "AKIABOB"
    assert b._request_signer._credentials.token is None
    assert alice._shared is bob._shared is partner._shared  # one session, models loaded once
    assert alice.client("marketplace-catalog") is a  # cached per factory


def test_preload_does_not_cache_a_client_or_leak_its_dummy_keys() -> None:
    factory = ClientFactory(region="us-east-1", endpoint_url="http://127.0.0.1:9")
    factory.preload("marketplace-agreement")
    customer = factory.with_credentials(StaticCredentials("AKIACUST", "secret"))
    client = customer.client("marketplace-agreement")
    assert client._request_signer._credentials.access_key == "AKIACUST"


def test_pagination_models_come_from_botocore_and_each_caller_gets_its_own_copy() -> None:
    """The sync's paginators read botocore's model (token names) once per process; a caller
    changing its copy cannot change what the next listing gets."""
    factory = ClientFactory(region="us-east-1")
    first = factory.page_config("marketplace-agreement", "GetAgreementTerms")
    assert first["input_token"] == "nextToken"
    first["input_token"] = "changed"
    sibling = factory.with_credentials(StaticCredentials("AKIAEXAMPLE", "secret"))
    assert sibling.page_config("marketplace-agreement", "GetAgreementTerms")["input_token"] == (
        "nextToken"
    )
