"""Real second processes for tests: the sandbox AWS served alone, and ``vell`` commands.

Each process gets a clean environment (no ``VELL_*`` from the caller, dummy AWS credentials) plus
what the test passes, runs in its own process group so teardown ends all of it, and logs to a
file under ``test-results/`` so a failure can be read afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.e2e.helpers import REPO_ROOT, free_port
from vell_core.sandbox.control import SandboxControl

RESULTS = REPO_ROOT / "test-results"
STARTUP_TIMEOUT_S = 60.0
# The two documented ways to run the sandbox alone; they must behave identically.
SANDBOX_COMMANDS = {
    "python -m vell_core.sandbox": [sys.executable, "-m", "vell_core.sandbox"],
    "vell sandbox": [sys.executable, "-c", "from vell_core.cli import app; app()", "sandbox"],
}
VELL = [sys.executable, "-c", "from vell_core.cli import app; app()"]


def clean_environment(**extra: str) -> dict[str, str]:
    """The caller's environment without Vell's variables, with dummy AWS credentials."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VELL_", "AWS_DELEGATION_")) or name == "VELL_TEST_DATABASE_URL"
    }
    env.update(
        {
            "VELL_AWS_MODE": "sandbox",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    env.pop("VELL_TEST_DATABASE_URL", None)
    env.update(extra)
    return env


def spawn(command: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group, output to ``test-results/<log_name>``."""
    RESULTS.mkdir(exist_ok=True)
    log = (RESULTS / log_name).open("ab")
    try:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()  # the child keeps its own copy of the descriptor


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group (``sig``), then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for_sandbox(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    """Poll ``/_sandbox/health`` until it answers (bounded), or fail naming the log."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sandbox exited with {process.returncode}; see {log}")
        try:
            if requests.get(f"{endpoint}/_sandbox/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)  # polling another process's start-up: there is no event to wait on
    raise AssertionError(f"sandbox did not answer within {STARTUP_TIMEOUT_S:g} s; see {log}")


@contextmanager
def sandbox_process(
    command: str = "python -m vell_core.sandbox", **env_extra: str
) -> Iterator[str]:
    """Run the sandbox alone on a free port; yields its endpoint URL."""
    port = free_port()
    env = clean_environment(VELL_SANDBOX_PORT=str(port), **env_extra)
    log_name = f"sandbox-{port}.log"
    process = spawn(SANDBOX_COMMANDS[command], env, log_name)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_sandbox(process, endpoint, RESULTS / log_name)
        yield endpoint
    finally:
        stop(process)


def customer_approves(endpoint: str, account: str, request_id: str) -> None:
    """The customer's owner and admin associate, accept and release the token (plain boto3)."""
    personas = SandboxControl(endpoint).personas(account)

    def iam(persona: str) -> Any:
        creds = personas[persona]
        return boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
        )

    iam("owner").associate_delegation_request(DelegationRequestId=request_id)
    iam("admin").accept_delegation_request(DelegationRequestId=request_id)
    iam("owner").send_delegation_token(DelegationRequestId=request_id)
