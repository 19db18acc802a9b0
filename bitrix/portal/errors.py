"""Errors the emulated portal answers with, shaped like Bitrix24's REST errors.

Every failure a method or the request pipeline raises becomes the JSON body
``{"error": code, "error_description": description, **extra}`` with the exception's HTTP status
and, as on a real portal, no ``time`` section::

    RestError                     any answered error: status, code, description, extra keys
     ├── AuthError                401: NO_AUTH_FOUND, INVALID_CREDENTIALS, insufficient_scope,
     │                            INVALID_REQUEST ("Https required.")
     ├── MethodNotFoundError      404 ERROR_METHOD_NOT_FOUND "Method not found!"
     ├── LimitError               503 QUERY_LIMIT_EXCEEDED / 429 OPERATION_TIME_LIMIT
     ├── BatchItemError           a batch-only sub-command error (ERROR_BATCH_LENGTH_EXCEEDED,
     │                            ERROR_BATCH_METHOD_NOT_ALLOWED); only ever in result_error
     └── MethodError              400 by default: errors of a method itself, e.g. the classic
                                  crm ``"error": ""`` "Not found", tasks' ERROR_CORE, "0"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RestError(Exception):
    """An error answer: HTTP ``status`` and the body ``{"error", "error_description", ...}``."""

    def __init__(
        self,
        code: str,
        description: str,
        status: int = 400,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code or '<empty>'}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra: dict[str, Any] = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Bitrix24 sends for this error (additional keys merged in)."""
        return {"error": self.code, "error_description": self.description, **self.extra}


class AuthError(RestError):
    """A 401 from the webhook authorization step."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(code, description, 401)


class MethodNotFoundError(RestError):
    """404 ERROR_METHOD_NOT_FOUND: the method does not exist on this portal."""

    def __init__(self) -> None:
        super().__init__("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


class LimitError(RestError):
    """A rate or operating-time limit: 503 QUERY_LIMIT_EXCEEDED or 429 OPERATION_TIME_LIMIT."""


class BatchItemError(RestError):
    """An error that exists only as a `batch` sub-command entry in ``result_error``."""


class MethodError(RestError):
    """An error raised by a method's own validation (400 unless stated otherwise)."""


def classic_crm_error(description: str) -> MethodError:
    """The classic ``crm.*`` error: HTTP 400 with an empty ``error`` code (reference §2.2)."""
    return MethodError("", description, 400)


def insufficient_scope(*, in_batch: bool = False) -> AuthError:
    """401 insufficient_scope; inside a batch the docs show an empty description."""
    description = (
        ""
        if in_batch
        else "The request requires higher privileges than provided by the webhook token"
    )
    return AuthError("insufficient_scope", description)
