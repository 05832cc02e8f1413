"""Fakes for ingestion tests: a verifier that trusts its input, and a counting STS."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import text
from sqlalchemy.engine import Engine

REQUEST_ID = "dr-1234567890abcdef0123"
WORKFLOW_ID = "vell-0123456789abcdef0123456789abcdef"
ACCOUNT = "602341187520"
TOPIC = "arn:aws:sns:us-east-1:253265132499:vell-delegation-notifications"
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeVerified:
    """Shaped like sns_verify.VerifiedMessage."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subject: str | None
    signature_sha256: str

    def inner(self) -> Any:
        return json.loads(self.message)


class FakeVerifier:
    """Accepts any envelope (signature checks are tested in the verifier's own tests)."""

    def verify(self, raw_body: str | bytes) -> FakeVerified:
        envelope = json.loads(raw_body)
        return FakeVerified(
            type=envelope["Type"],
            message_id=envelope["MessageId"],
            topic_arn=envelope["TopicArn"],
            message=envelope["Message"],
            timestamp=T0,
            subject=None,
            signature_sha256=hashlib.sha256(envelope["Signature"].encode()).hexdigest(),
        )


# HTTP status AWS answers each scripted error code with (the retry classifier reads it).
STATUS_FOR = {"ServiceUnavailable": 503, "InternalFailure": 500, "Throttling": 400}


def client_error(code: str, operation: str = "GetDelegatedAccessToken") -> ClientError:
    """A ClientError shaped as botocore raises it for ``code``."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": "x"},
            "ResponseMetadata": {"HTTPStatusCode": STATUS_FOR.get(code, 400)},
        },
        operation,
    )


class CountingSts:
    """GetDelegatedAccessToken that counts calls and can be told to fail.

    ``fail_with`` fails every call; ``fail_next`` fails the next calls in order (an error code
    or an exception instance each). Each token belongs to ``token_accounts[token]`` (default
    ``ACCOUNT``): the credentials it mints answer GetCallerIdentity with that account.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.fail_with: str | None = None
        self.fail_next: list[str | Exception] = []
        self.token_accounts: dict[str, str] = {}
        self.identity_failures: list[str | Exception] = []
        self.identities: dict[str, str] = {}
        self._lock = threading.Lock()

    def get_delegated_access_token(self, *, TradeInToken: str) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            scripted = self.fail_next.pop(0) if self.fail_next else None
        if scripted is not None:
            raise client_error(scripted) if isinstance(scripted, str) else scripted
        if self.fail_with:
            raise client_error(self.fail_with)
        key = "ASIAFAKE" + uuid.uuid4().hex[:12].upper()
        account = self.token_accounts.get(TradeInToken, ACCOUNT)
        self.identities[key] = account
        return {
            "Credentials": {
                "AccessKeyId": key,
                "SecretAccessKey": "fake-secret-" + TradeInToken[-6:],
                "SessionToken": "fake-session",
                "Expiration": T0 + timedelta(hours=4),
            },
            "AssumedPrincipal": f"arn:aws:iam::{account}:user/customer-admin",
        }

    def caller_identity(self, access_key_id: str) -> dict[str, Any]:
        """What GetCallerIdentity answers for credentials this fake minted."""
        if self.identity_failures:
            scripted = self.identity_failures.pop(0)
            raise (
                client_error(scripted, "GetCallerIdentity")
                if isinstance(scripted, str)
                else scripted
            )
        account = self.identities[access_key_id]
        return {
            "Account": account,
            "Arn": f"arn:aws:iam::{account}:user/customer-admin",
            "UserId": access_key_id,
        }


class _DelegatedSts:
    """The STS client built from delegated credentials (GetCallerIdentity only)."""

    def __init__(self, sts: CountingSts, access_key_id: str) -> None:
        self._sts = sts
        self._key = access_key_id

    def get_caller_identity(self) -> dict[str, Any]:
        return self._sts.caller_identity(self._key)


class FakeFactory:
    """Stands in for the partner ClientFactory (and its ``with_credentials`` siblings)."""

    def __init__(self, sts: CountingSts, access_key_id: str | None = None) -> None:
        self.sts = sts
        self._key = access_key_id

    def client(self, service: str) -> Any:
        assert service == "sts"
        return self.sts if self._key is None else _DelegatedSts(self.sts, self._key)

    def with_credentials(self, credentials: Any, client_hook: Any = None) -> FakeFactory:
        return FakeFactory(self.sts, credentials.access_key_id)


def envelope(inner: dict[str, Any], message_id: str | None = None) -> str:
    """An SNS envelope around ``inner`` (signature unique per message id)."""
    message_id = message_id or str(uuid.uuid4())
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC,
            "Message": json.dumps(inner),
            "Timestamp": "2026-11-29T12:00:00.000Z",
            "SignatureVersion": "2",
            "Signature": "sig-" + message_id,
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem",
        }
    )


def state_change(state: str, minutes: int = 0, **extra: Any) -> dict[str, Any]:
    """IAM's StateChange message for our request."""
    return {
        "Type": "StateChange",
        "RequestId": REQUEST_ID,
        "RequestorWorkflowId": WORKFLOW_ID,
        "State": state,
        "OwnerAccountId": ACCOUNT,
        "UpdatedAt": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        **extra,
    }


def exchange_token(minutes: int = 5, token: str = "tok-SENTINEL-123456") -> dict[str, Any]:
    """IAM's ExchangeToken message for our request."""
    message = state_change("FINALIZED", minutes)
    message.update(
        {
            "Type": "ExchangeToken",
            "ExchangeToken": token,
            "ExpiresAt": (T0 + timedelta(minutes=minutes, hours=4))
            .isoformat()
            .replace("+00:00", "Z"),
        }
    )
    return message


def insert_request(engine: Engine, *, request_id: str | None = REQUEST_ID) -> None:
    """One staff member and one launched demo awaiting the customer."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO staff_users (id, name, email, role, active, created_at) "
                "VALUES (1, 'Maya', 'maya@vell.ai', 'sales', true, :t)"
            ),
            {"t": T0},
        )
        connection.execute(
            text(
                "INSERT INTO delegation_requests (id, user_id, company, aws_account_id, "
                "delegation_request_id, requestor_workflow_id, type, status, aws_state, "
                "expires_at, "
                "create_persistent_role, session_duration, template_name, template_arn, "
                "exchange_state, wizard_session_id, created_at, updated_at) VALUES (1, 1, 'Acme', "
                ":acct, :rid, :wf, 'demo', 'pending', 'UNASSIGNED', :exp, false, 14400, "
                "'read-only', 'arn:aws:iam:::delegation-template/x', 'none', 'wiz-1', :t, :t)"
            ),
            {
                "acct": ACCOUNT,
                "rid": request_id,
                "wf": WORKFLOW_ID,
                "t": T0,
                "exp": T0 + timedelta(days=1),
            },
        )
