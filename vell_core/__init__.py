"""Vell Delegation Desk: AWS IAM temporary delegation for Vell's staff.

The package is layered; each layer imports only the layers above it in this list:

- ``domain``   pure rules and types: errors, clock, models, lifecycle, validation, policies
- ``config``   the one settings class and secret-safe logging
- ``store``    the database: engine, migrations, seed data and queries
- ``aws``      the client factory, retries, SNS verification, the credential vault, the probe
- ``services`` one service per feature (delegation, ingest, sync, promotion, metrics, ...)
- ``views``    pure shaping of service results for pages (tables, charts, text, CSV)
- ``ui``       the Streamlit bridge: cached services, sign-in, navigation, live views
- ``app``      the one composition root; ``cli`` the ``vell`` command

``sandbox`` is the local AWS (moto plus what moto lacks), used only through its endpoint.

The public API is small and loaded lazily, so importing one module does not import them all::

    from vell_core import build_services, load_settings
    services = build_services(load_settings())
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vell_core.app import Services, build_services
    from vell_core.config.settings import Settings, load_settings
    from vell_core.domain.errors import VellError

__all__ = ["Services", "Settings", "VellError", "build_services", "load_settings"]

_HOMES = {
    "Services": "vell_core.app",
    "build_services": "vell_core.app",
    "Settings": "vell_core.config.settings",
    "load_settings": "vell_core.config.settings",
    "VellError": "vell_core.domain.errors",
}


def __getattr__(name: str) -> Any:
    """Load a public name from its home module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module 'vell_core' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
