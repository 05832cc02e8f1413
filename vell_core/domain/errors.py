"""Domain errors: one small tree that pages turn into friendly messages.

::

    VellError                      user-safe message in ``.message``; details go to logs only
    ├── ConfigurationError         settings missing or invalid (start-up)
    ├── ValidationFailed           input refused at the edge (field -> reason)
    ├── NotFound                   no such row / request / entity
    ├── PermissionDenied           the signed-in staff member may not do this
    ├── RateLimited                too many actions in a short time
    ├── InvalidTransition          the state machine refuses the move
    ├── CredentialsUnavailable     no live customer credentials (expired or never exchanged)
    ├── RecordLinkRefused          a customer's access-record link is tampered, expired or unknown
    └── AwsError                   an AWS call failed (code kept for logs)
        ├── AwsAccessDenied
        ├── AwsThrottled
        └── AwsConflict            already exists / concurrent modification
"""

from __future__ import annotations


class VellError(Exception):
    """Base of every error the app raises on purpose."""

    default_message = "Something went wrong."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ConfigurationError(VellError):
    """Settings are missing or invalid."""

    default_message = "The app is not configured correctly."


class ValidationFailed(VellError):
    """Input refused before anything was sent anywhere."""

    default_message = "Some of the input is not valid."

    def __init__(self, message: str | None = None, fields: dict[str, str] | None = None) -> None:
        self.fields = fields or {}
        if message is None and self.fields:
            message = "; ".join(f"{k}: {v}" for k, v in self.fields.items())
        super().__init__(message)


class NotFound(VellError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    default_message = "Not found."


class PermissionDenied(VellError):
    """The signed-in staff member may not perform this action."""

    default_message = "You do not have permission to do that."


class RateLimited(VellError):
    """Too many actions in a short time."""

    default_message = "Too many requests; please wait a moment and try again."


class InvalidTransition(VellError):
    """A state change that the lifecycle does not allow."""

    default_message = "That action is not possible in the current state."


class CredentialsUnavailable(VellError):
    """No live delegated credentials for this customer."""

    default_message = "The customer's temporary access has expired or is not available."


class RecordLinkRefused(VellError):
    """A customer's access-record link cannot be shown (changed, expired, or names no record)."""

    default_message = (
        "This link is not valid. Ask your Vell contact to send you the record of your access again."
    )


class AwsError(VellError):
    """An AWS call failed; ``code`` is the AWS error code (for logs and branching)."""

    default_message = "AWS refused the request."

    def __init__(self, message: str | None = None, code: str = "", operation: str = "") -> None:
        self.code = code
        self.operation = operation
        super().__init__(message)


class AwsAccessDenied(AwsError):
    """AWS denied the call (policy, boundary, trust or expired credentials)."""

    default_message = "AWS denied access for this action."


class AwsThrottled(AwsError):
    """AWS throttled the call even after retries."""

    default_message = "AWS is rate-limiting us; try again in a few seconds."


class AwsConflict(AwsError):
    """The resource already exists or is being changed concurrently."""

    default_message = "AWS reported a conflict with an existing resource."
