"""No secret reaches the logs or the page (security checklist C1, C2).

A local HTTP server plays STS: botocore really sends ``TradeInToken`` and really receives
``SecretAccessKey`` / ``SessionToken`` in the XML body, with the root logger at DEBUG. The
sentinels must not appear in any captured record or in stderr.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from streamlit.testing.v1 import AppTest

from vell_core.config.logs import NOISY_LOGGERS, configure_logging, forget_secret

TRADE_IN = "SENTINEL-TRADEIN-7f3a9c0e11d24b6a"
ACCESS_KEY = "ASIASENTINEL7Q2W3E4R"
SECRET_KEY = "SENTINEL/secret+key/9d8c7b6a5f4e3d2c1b0a"
SESSION_TOKEN = "SENTINEL-session-token-IQoJb3JpZ2luX2VjEJr"
SENTINELS = (TRADE_IN, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)

STS_RESPONSE = f"""<GetDelegatedAccessTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetDelegatedAccessTokenResult>
    <Credentials>
      <AccessKeyId>{ACCESS_KEY}</AccessKeyId>
      <SecretAccessKey>{SECRET_KEY}</SecretAccessKey>
      <SessionToken>{SESSION_TOKEN}</SessionToken>
      <Expiration>2026-11-29T16:00:00Z</Expiration>
    </Credentials>
    <PackedPolicySize>12</PackedPolicySize>
    <AssumedPrincipal>arn:aws:sts::602341187520:assumed-role/x/y</AssumedPrincipal>
  </GetDelegatedAccessTokenResult>
  <ResponseMetadata><RequestId>11111111-2222-3333-4444-555555555555</RequestId></ResponseMetadata>
</GetDelegatedAccessTokenResponse>"""


class _StsHandler(BaseHTTPRequestHandler):
    """Answers every POST with a successful GetDelegatedAccessToken carrying the sentinels."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = STS_RESPONSE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib server's own stderr lines."""


@pytest.fixture
def sts_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """Root at DEBUG through the app's own configuration; restored afterwards."""
    root = logging.getLogger()
    saved = (root.level, {name: logging.getLogger(name).level for name in NOISY_LOGGERS})
    configure_logging("DEBUG")
    yield
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)
    for secret in SENTINELS:
        forget_secret(secret)


def _exchange(endpoint: str) -> dict[str, Any]:
    client = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="AKIAPARTNERKEY000001",
        aws_secret_access_key="partner-secret-not-a-sentinel",
        config=Config(retries={"max_attempts": 1}),
    )
    response: dict[str, Any] = client.get_delegated_access_token(TradeInToken=TRADE_IN)
    logging.getLogger("vell.test").debug("exchange response: %s", response)
    logging.getLogger("vell.test").info("credentials %r", response["Credentials"])
    return response


def _assert_clean(text: str) -> None:
    leaked = [sentinel for sentinel in SENTINELS if sentinel in text]
    assert not leaked, f"leaked into logs: {leaked}"


def test_debug_root_logging_never_shows_exchange_secrets(
    sts_endpoint: str,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG")  # re-pin after caplog lowered levels, as every entry point does
    response = _exchange(sts_endpoint)
    assert response["Credentials"]["SecretAccessKey"] == SECRET_KEY  # the call really happened
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("botocore").level == logging.WARNING
    _assert_clean(caplog.text)
    _assert_clean("\n".join(str(record.__dict__) for record in caplog.records))
    captured = capfd.readouterr()
    _assert_clean(captured.err + captured.out)


def test_redaction_holds_even_if_botocore_is_forced_to_debug(
    sts_endpoint: str,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Defence in depth: someone sets botocore to DEBUG; the handlers' filter still masks."""
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    _exchange(sts_endpoint)
    assert any(record.name.startswith("botocore") for record in caplog.records)
    _assert_clean(caplog.text)
    captured = capfd.readouterr()
    _assert_clean(captured.err + captured.out)


def test_page_shows_only_the_safe_message_of_an_error() -> None:
    """friendly_errors: the VellError message reaches the page; its cause and details do not."""

    def script() -> None:
        from vell_core.domain.errors import AwsAccessDenied
        from vell_core.ui.bridge import friendly_errors

        with friendly_errors("exchange"):
            try:
                raise RuntimeError("SecretAccessKey=SENTINEL/secret+key/9d8c7b6a5f4e3d2c1b0a")
            except RuntimeError as exc:
                raise AwsAccessDenied(code="AccessDenied") from exc

    app = AppTest.from_function(script).run()
    assert not app.exception
    assert [error.value for error in app.error] == ["AWS denied access for this action."]
    _assert_clean(str(app._tree))
