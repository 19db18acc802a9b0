"""An emulated Bitrix24 portal (incoming-webhook REST API) for the demo, tests and benchmarks."""

from bitrix.portal.store import PortalStore

__all__ = ["PortalStore"]
