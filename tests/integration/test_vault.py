"""The credential vault: memory only, sealed hand-off, expiry, redacted repr."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Engine

from vell_core.aws.vault import CredentialVault, DelegatedCredentials
from vell_core.domain.clock import FrozenClock
from vell_core.store.credentials import CredentialStore

SECRET = "SENTINELsecretKEY0123456789"
TOKEN = "SENTINELsessionTOKEN0123456789"


def _credentials(clock: FrozenClock) -> DelegatedCredentials:
    return DelegatedCredentials(
        access_key_id="ASIASENTINEL00000001",
        secret_access_key=SECRET,
        session_token=TOKEN,
        expiration=clock.now() + timedelta(hours=4),
        assumed_principal="arn:aws:iam::123456789012:user/admin",
    )


def _seed_delegation(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO staff_users (id, name, email, role, active, created_at) "
                "VALUES (1, 'M', 'm@vell.ai', 'sales', 1, '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO delegation_requests (id, user_id, company, aws_account_id, "
                "requestor_workflow_id, type, status, expires_at, create_persistent_role, "
                "session_duration, template_name, template_arn, exchange_state, created_at, "
                "updated_at) VALUES (7, 1, 'Acme', '123456789012', 'vell-x', 'demo', 'approved', "
                "'2026-01-01 00:00:00', 0, 14400, 'read-only', 'arn', 'done', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )


def test_credentials_never_reach_the_database_in_plaintext(engine: Engine, sqlite_url: str) -> None:
    _seed_delegation(engine)
    clock = FrozenClock()
    vault = CredentialVault(store=CredentialStore(engine), clock=clock)
    vault.put(7, _credentials(clock))
    assert vault.get(7) is not None
    engine.dispose()
    raw = open(sqlite_url.removeprefix("sqlite:///"), "rb").read()
    wal = sqlite_url.removeprefix("sqlite:///") + "-wal"
    try:
        raw += open(wal, "rb").read()
    except FileNotFoundError:
        pass
    assert SECRET.encode() not in raw
    assert TOKEN.encode() not in raw


def test_repr_is_redacted(engine: Engine) -> None:
    clock = FrozenClock()
    credentials = _credentials(clock)
    assert SECRET not in repr(credentials)
    assert TOKEN not in str(credentials)
    assert SECRET not in repr(CredentialVault(store=CredentialStore(engine), clock=clock))


def test_expired_credentials_are_dropped(engine: Engine) -> None:
    _seed_delegation(engine)
    clock = FrozenClock()
    vault = CredentialVault(store=CredentialStore(engine), clock=clock)
    vault.put(7, _credentials(clock))
    clock.advance(timedelta(hours=4))
    assert vault.get(7) is None
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM sealed_credentials")).scalar() == 0


def test_another_process_with_the_same_key_can_unseal(engine: Engine) -> None:
    _seed_delegation(engine)
    clock = FrozenClock()
    key = Fernet.generate_key()
    CredentialVault(store=CredentialStore(engine), clock=clock, key=key).put(7, _credentials(clock))
    other = CredentialVault(store=CredentialStore(engine), clock=clock, key=key)
    got = other.get(7)
    assert got is not None
    assert got.secret_access_key == SECRET
    stranger = CredentialVault(store=CredentialStore(engine), clock=clock)  # different key
    assert stranger.get(7) is None
    # A process with another key must not destroy the seal others can still open.
    assert CredentialVault(store=CredentialStore(engine), clock=clock, key=key).get(7) is not None
