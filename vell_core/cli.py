"""The ``vell`` command line: database, seed data, the notification worker, the sandbox."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import typer

from vell_core.config.logs import configure_logging
from vell_core.config.settings import PROJECT_ROOT, load_settings
from vell_core.domain.clock import SystemClock
from vell_core.domain.errors import ConfigurationError
from vell_core.services import seed as seed_module
from vell_core.store import migrate
from vell_core.store.engine import make_engine
from vell_core.store.seed import SeedStore

app = typer.Typer(help="Vell Delegation Desk administration.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
log = logging.getLogger("vell")


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
    settings = load_settings()
    migrate.upgrade(settings.vell_database_url, revision)
    typer.echo(f"Database at {migrate.current_revision(settings.vell_database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(...)) -> None:
    """Revert migrations down to REVISION (e.g. base, or -1)."""
    settings = load_settings()
    migrate.downgrade(settings.vell_database_url, revision)
    typer.echo(f"Database at {migrate.current_revision(settings.vell_database_url)}")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    migrate.check(load_settings().vell_database_url)
    typer.echo("Models and migrations agree.")


@app.command("seed")
def seed(reset: bool = typer.Option(False, "--reset", help="Delete all rows first.")) -> None:
    """Fill an empty store with deterministic history (refuses a non-empty store)."""
    settings = load_settings()
    store = SeedStore(make_engine(settings.vell_database_url))
    if reset:
        store.reset()
    if not store.is_empty():
        typer.echo("The store already has data; use --reset to start over.")
        raise typer.Exit(0)
    result = seed_module.seed(store, SystemClock().now())
    typer.echo(f"Seeded: {result}")


@app.command("bootstrap")
def bootstrap() -> None:
    """Migrate to head and seed when empty (what `make run` and `make test` do)."""
    settings = load_settings()
    migrate.upgrade(settings.vell_database_url)
    if settings.is_sandbox:
        _ensure_sample_sellers(settings.vell_sandbox_seed)
    store = SeedStore(make_engine(settings.vell_database_url))
    if store.is_empty():
        result = seed_module.seed(store, SystemClock().now())
        typer.echo(f"Seeded an empty store: {result}")
    else:
        typer.echo("Store is migrated and already has data.")


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

    The services (sandbox AWS, notification worker, engine) are built before Streamlit opens
    its port: once the health check answers, the sandbox already listens and no page waits
    for a first-request build.
    """
    from streamlit.web import cli as streamlit_cli

    from vell_core.ui.bridge import start_services

    start_services()
    sys.argv = ["streamlit", "run", str(PROJECT_ROOT / "Home.py"), *ctx.args]
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
    from vell_core.sandbox.runtime import start_local_sandbox

    overrides = {} if port is None else {"vell_sandbox_port": port}
    settings = load_settings(**overrides)
    configure_logging(settings.vell_log_level)
    # Start, never join: a second sandbox on a busy port fails loudly instead of idling.
    running = start_local_sandbox(settings)
    typer.echo(f"Sandbox AWS on {running.endpoint}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    running.stop()


if __name__ == "__main__":
    app()
