"""An emulated Bitrix24 portal (incoming-webhook REST API) for the demo, tests and benchmarks.

- `EmulatedPortal` (async) and `PortalThread` (background thread) serve a `PortalStore`;
- `PortalOptions` switches credentials, scopes, limits, latency, https-required and moved modes;
- `Fault` kinds for `EmulatedPortal.inject_fault`; `RecordedRequest` for request assertions;
- `ManualClock` to drive the leaky bucket and operating windows without sleeping;
- `sample_store`, `deals_store`, `users_store`, `tasks_store`: small datasets for tests.
"""

from bitrix.portal.fixtures import deals_store, sample_store, tasks_store, users_store
from bitrix.portal.limits import ManualClock
from bitrix.portal.options import ALL_SCOPES, DEFAULT_SCOPES, PortalOptions
from bitrix.portal.server import EmulatedPortal, Fault, PortalThread, RecordedRequest
from bitrix.portal.store import PortalStore

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_SCOPES",
    "EmulatedPortal",
    "Fault",
    "ManualClock",
    "PortalOptions",
    "PortalStore",
    "PortalThread",
    "RecordedRequest",
    "deals_store",
    "sample_store",
    "tasks_store",
    "users_store",
]
