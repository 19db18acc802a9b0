"""Bitrix24: the REST client, the emulated portal, and the company's CRM domain layer.

Knows Bitrix24 and nothing of Telegram. The client's public surface is re-exported here::

    from bitrix import BitrixClient, ListRequest, BitrixError

See `bitrix.client` (calls, batches, complete lists), `bitrix.errors` (the exception tree) and
`bitrix.throttle` (the leaky bucket).
"""

from bitrix.client import (
    BATCH_LIMIT,
    PAGE_SIZE,
    BatchResult,
    BitrixClient,
    BitrixResponse,
    ClientStats,
    ListRequest,
    is_read_method,
)
from bitrix.errors import (
    BitrixAccessDenied,
    BitrixAPIError,
    BitrixAuthError,
    BitrixBadResponse,
    BitrixBatchError,
    BitrixConfigError,
    BitrixConnectError,
    BitrixConnectionDropped,
    BitrixError,
    BitrixHTTPError,
    BitrixHttpsRequired,
    BitrixInsufficientScope,
    BitrixInvalidCredentials,
    BitrixLimitError,
    BitrixMappingError,
    BitrixMethodNotFound,
    BitrixNotFound,
    BitrixOperationTimeLimit,
    BitrixOverloaded,
    BitrixPaymentRequired,
    BitrixPortalDeleted,
    BitrixPortalMoved,
    BitrixQueryLimitExceeded,
    BitrixRequestError,
    BitrixServerError,
    BitrixTimeoutError,
    BitrixTransportError,
    BitrixUserDeactivated,
    scope_for_method,
)
from bitrix.throttle import LeakyBucket

__all__ = [
    "BATCH_LIMIT",
    "PAGE_SIZE",
    "BatchResult",
    "BitrixAPIError",
    "BitrixAccessDenied",
    "BitrixAuthError",
    "BitrixBadResponse",
    "BitrixBatchError",
    "BitrixClient",
    "BitrixConfigError",
    "BitrixConnectError",
    "BitrixConnectionDropped",
    "BitrixError",
    "BitrixHTTPError",
    "BitrixHttpsRequired",
    "BitrixInsufficientScope",
    "BitrixInvalidCredentials",
    "BitrixLimitError",
    "BitrixMappingError",
    "BitrixMethodNotFound",
    "BitrixNotFound",
    "BitrixOperationTimeLimit",
    "BitrixOverloaded",
    "BitrixPaymentRequired",
    "BitrixPortalDeleted",
    "BitrixPortalMoved",
    "BitrixQueryLimitExceeded",
    "BitrixRequestError",
    "BitrixResponse",
    "BitrixServerError",
    "BitrixTimeoutError",
    "BitrixTransportError",
    "BitrixUserDeactivated",
    "ClientStats",
    "LeakyBucket",
    "ListRequest",
    "is_read_method",
    "scope_for_method",
]
