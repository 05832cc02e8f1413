"""IAM temporary delegation requests, the operations moto lacks (moto-style package).

``models.py`` holds the request resource and the backend (one method per operation),
``responses.py`` maps parsed calls to the backend and builds the ``ServiceBackend`` for the
wire layer, ``exceptions.py`` the AWS error codes.
"""

from vell_core.sandbox.iam.models import DelegationBackend, DelegationRequest, State
from vell_core.sandbox.iam.responses import build_iam_backend, load_registered_templates

__all__ = [
    "DelegationBackend",
    "DelegationRequest",
    "State",
    "build_iam_backend",
    "load_registered_templates",
]
