"""The ``vell`` command line: database, seed data, the notification worker, the sandbox."""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import typer

from vell_core.config.logs import configure_logging
from vell_core.config.settings import PROJECT_ROOT, Settings, load_settings
from vell_core.domain.clock import SystemClock
from vell_core.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from vell_core.sandbox.runtime import SandboxProcess
    from vell_core.services.seed import SeedResult
    from vell_core.store.seed import SeedStore

app = typer.Typer(help="Vell Delegation Desk administration.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
log = logging.getLogger("vell")

# The store, migration and seed modules (Alembic, the seed generator) are imported inside the
# commands that use them: ``vell run`` serves its first page sooner without them.


@app.callback()
def _settings_are_valid() -> None:
    """Refuse invalid settings with their message (not a traceback) before any command runs."""
    try:
        load_settings()
    except ConfigurationError as exc:
        typer.echo(f"Configuration error: {exc.message}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from vell_core.store import migrate

    settings = load_settings()
    migrate.upgrade(settings.vell_database_url, revision)
    typer.echo(f"Database at {migrate.current_revision(settings.vell_database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(...)) -> None:
    """Revert migrations down to REVISION (e.g. base, or -1)."""
    from vell_core.store import migrate

    settings = load_settings()
    migrate.downgrade(settings.vell_database_url, revision)
    typer.echo(f"Database at {migrate.current_revision(settings.vell_database_url)}")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from vell_core.store import migrate

    migrate.check(load_settings().vell_database_url)
    typer.echo("Models and migrations agree.")


@app.command("seed")
def seed(reset: bool = typer.Option(False, "--reset", help="Delete all rows first.")) -> None:
    """Fill an empty store with deterministic history (refuses a non-empty store)."""
    store = _seed_store(load_settings())
    if reset:
        store.reset()
    if not store.is_empty():
        typer.echo("The store already has data; use --reset to start over.")
        raise typer.Exit(0)
    typer.echo(f"Seeded: {_seed(store)}")


@app.command("bootstrap")
def bootstrap() -> None:
    """Migrate to head and seed when empty (what `make run` and `make test` do)."""
    from vell_core.store import migrate

    settings = load_settings()
    _compile_bytecode()
    migrate.upgrade(settings.vell_database_url)
    if settings.is_sandbox:
        _ensure_sample_sellers(settings.vell_sandbox_seed)
    store = _seed_store(settings)
    if store.is_empty():
        typer.echo(f"Seeded an empty store: {_seed(store)}")
    else:
        typer.echo("Store is migrated and already has data.")


def _compile_bytecode() -> None:
    """Write ``vell_core``'s bytecode now, so ``vell run`` starts without compiling 32k lines.

    Python does this itself on first import, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on
    CI machines); up-to-date files are skipped, so this costs nothing on a second bootstrap.
    """
    import compileall

    compileall.compile_dir(PROJECT_ROOT / "vell_core", quiet=1)


def _seed_store(settings: Settings) -> SeedStore:
    """The store the seed commands write to."""
    from vell_core.store.engine import make_engine
    from vell_core.store.seed import SeedStore

    return SeedStore(make_engine(settings.vell_database_url))


def _seed(store: SeedStore) -> SeedResult:
    """Fill ``store`` with the deterministic history, dated from now."""
    from vell_core.services import seed as seed_module

    return seed_module.seed(store, SystemClock().now())


def _ensure_sample_sellers(seed: int) -> None:
    """Write the sandbox's sample sellers under data/sellers/ unless they are there."""
    from vell_core.config.sandbox_accounts import SANDBOX_CUSTOMERS
    from vell_core.config.settings import DATA_DIR
    from vell_core.sandbox.marketplace.generator import seller_path, write_sample_sellers

    if all(seller_path(DATA_DIR, c.account_id).exists() for c in SANDBOX_CUSTOMERS):
        return
    written = write_sample_sellers(DATA_DIR, SystemClock().now(), seed=seed)
    typer.echo(f"Wrote {len(written)} sandbox sample sellers under {DATA_DIR / 'sellers'}")


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(ctx: typer.Context) -> None:
    """Serve the app (``streamlit run Home.py`` plus any extra Streamlit flags).

    In the sandbox, the sandbox AWS starts first in a child process (``SandboxProcess``) and
    comes up on the other core while this process imports the app. The services (joining that
    sandbox, the notification worker, the engine) are built before Streamlit opens its port:
    once the health check answers, no page waits for a first-request build.
    """
    from vell_core.sandbox.runtime import SandboxProcess, sandbox_is_serving

    settings = load_settings()
    child = (
        SandboxProcess(settings)
        if settings.is_sandbox and not sandbox_is_serving(settings)
        else None
    )
    try:
        _serve(ctx.args, settings, child)
    except ConfigurationError as exc:
        typer.echo(f"Configuration error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        if child is not None:
            child.stop()


def _serve(streamlit_args: list[str], settings: Settings, child: SandboxProcess | None) -> None:
    """Build the services (joining ``child``'s sandbox once it listens), then run Streamlit."""
    from streamlit.web import cli as streamlit_cli

    from vell_core.ui.bridge import start_services

    if child is not None:
        port = urlparse(child.wait_ready()).port
        settings = load_settings(vell_sandbox_port=port)  # the port the child took (0 = any)
    start_services(settings)
    # Everything imported and built so far lives as long as the process: frozen, a full
    # collection need not walk it (``bridge.after_page`` freezes again after its warm-up).
    gc.freeze()
    sys.argv = ["streamlit", "run", str(PROJECT_ROOT / "Home.py"), *streamlit_args]
    streamlit_cli.main()


@app.command("worker")
def worker() -> None:
    """Run the notification worker (SQS long polling) until interrupted."""
    from vell_core.app import build_services

    settings = load_settings(vell_start_worker=False)
    configure_logging(settings.vell_log_level)
    services = build_services(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner = services.start_worker()
    log.info("Worker running; Ctrl+C to stop.")
    stop.wait()
    runner.stop()
    services.close()


@app.command("sandbox")
def sandbox(
    port: int | None = typer.Option(
        None, help="Port to serve the sandbox AWS on (default: VELL_SANDBOX_PORT, 4599)."
    ),
) -> None:
    """Serve the whole sandbox AWS alone (for scripts, workers, app replicas), until stopped."""
    from vell_core.sandbox.runtime import READY_PREFIX, start_local_sandbox

    overrides = {} if port is None else {"vell_sandbox_port": port}
    settings = load_settings(**overrides)
    configure_logging(settings.vell_log_level)
    # Start, never join: a second sandbox on a busy port fails loudly instead of idling.
    running = start_local_sandbox(settings)
    typer.echo(f"{READY_PREFIX}{running.endpoint}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    running.stop()


if __name__ == "__main__":
    app()
