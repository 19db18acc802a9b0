"""The call pipeline shared by HTTP requests and `batch` sub-commands.

For one method call: find the method (404 ERROR_METHOD_NOT_FOUND), check the webhook's scopes
(401 insufficient_scope), check the method's operating-time budget (429 OPERATION_TIME_LIMIT),
run it, charge its operating time, and wrap the result in the envelope
``{"result", "total"?, "next"?, "time"}``. The HTTP layer does
credentials, limits and faults before this, and PHP-array shaping after.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bitrix.portal.calls import CallContext, MethodSpec, Params
from bitrix.portal.errors import LimitError, MethodNotFoundError, insufficient_scope
from bitrix.portal.limits import OperatingMeter
from bitrix.portal.options import PortalOptions
from bitrix.portal.query import iso, php_intval
from bitrix.portal.store import PortalStore

#: Calls faster than this are not recorded by the real load limiter ($minimalFixTime).
MIN_RECORDED_SECONDS = 0.1


class PortalEngine:
    """Runs REST methods against a store, with scopes and operating-time accounting."""

    def __init__(
        self,
        store: PortalStore,
        options: PortalOptions,
        methods: Mapping[str, MethodSpec],
        meter: OperatingMeter,
    ) -> None:
        self.store = store
        self.options = options
        self.methods = methods
        self.meter = meter

    def lookup(self, method: str) -> MethodSpec:
        """The method by name (case-insensitive), or 404 ERROR_METHOD_NOT_FOUND."""
        spec = self.methods.get(method.lower())
        if spec is None:
            raise MethodNotFoundError()
        return spec

    def check_scope(self, spec: MethodSpec, *, in_batch: bool = False) -> None:
        """401 insufficient_scope unless the webhook holds one of the method's scopes."""
        if spec.scopes is not None and not (spec.scopes & set(self.options.scopes)):
            raise insufficient_scope(in_batch=in_batch)

    def call(
        self,
        method: str,
        params: Params,
        *,
        in_batch: bool = False,
        trace: list[str] | None = None,
    ) -> dict[str, Any]:
        """Look up, scope-check and run one call; the envelope, or a raised `RestError`."""
        spec = self.lookup(method)
        self.check_scope(spec, in_batch=in_batch)
        return self.run(spec, params, in_batch=in_batch, trace=trace)

    def run(
        self,
        spec: MethodSpec,
        params: Params,
        *,
        in_batch: bool = False,
        trace: list[str] | None = None,
    ) -> dict[str, Any]:
        """Run an already authorised call and build its envelope."""
        arguments = dict(params)
        # CRestServer takes `start` (lower case only) out of the params and intval()s it.
        start = php_intval(arguments.pop("start")) if "start" in arguments else 0
        now = float(self.options.clock())
        budget = self.options.operating_budget
        if spec.metered and budget is not None and self.meter.used(spec.name, now) >= budget:
            raise LimitError(
                "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429
            )
        tz = ZoneInfo(self.store.timezone)
        context = CallContext(self.store, self.options, now, tz, start, in_batch)
        if spec.name == "batch":
            sub_trace = trace if trace is not None else []

            def subcall(sub_method: str, sub_params: Params) -> dict[str, Any]:
                sub_trace.append(sub_method.lower())
                return self.call(sub_method, sub_params, in_batch=True)

            context.subcall = subcall
        began = time.perf_counter()
        output = spec.handler(context, arguments)
        elapsed = time.perf_counter() - began
        if spec.metered:
            cost = self.options.operating_costs.get(spec.name, self.options.operating_cost)
            if cost is None:
                cost = elapsed if elapsed >= MIN_RECORDED_SECONDS else 0.0
            self.meter.charge(spec.name, now, cost)
        envelope: dict[str, Any] = {"result": output.result}
        if output.total is not None:
            envelope["total"] = int(output.total)
        if output.next is not None:
            envelope["next"] = int(output.next)
        envelope["time"] = self._time(spec, now, elapsed, tz)
        return envelope

    def _time(self, spec: MethodSpec, now: float, elapsed: float, tz: ZoneInfo) -> dict[str, Any]:
        finish = now + elapsed
        section: dict[str, Any] = {
            "start": now,
            "finish": finish,
            "duration": float(elapsed),
            "processing": float(elapsed),
            "date_start": iso(datetime.fromtimestamp(now, tz)),
            "date_finish": iso(datetime.fromtimestamp(finish, tz)),
        }
        if spec.metered:
            used = self.meter.used(spec.name, now)
            reset_at = self.meter.reset_at(spec.name, now)
            if used > 0 and reset_at is not None:
                section["operating_reset_at"] = reset_at
                section["operating"] = float(used)
        return section
