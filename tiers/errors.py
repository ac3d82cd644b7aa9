"""One error hierarchy for the core; the server catches it at the handler boundary."""

from __future__ import annotations


class LspServerError(Exception):
    """Base of every error the core raises on purpose. `user_message` is safe to show."""

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message or message


class ModelLoadError(LspServerError):
    """A model file could not be loaded (missing, truncated, corrupt, not a text model, too big)."""


class TierUnavailableError(LspServerError):
    """A tier cannot answer now (no model, remote offline, circuit open)."""


class RemoteError(LspServerError):
    """A remote provider failed (connection, HTTP status, malformed reply, deadline)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        retry_after: float | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.kind = kind  # "connect", "timeout", "rate_limit", "server", "protocol", "too_large"
        self.retry_after = retry_after
