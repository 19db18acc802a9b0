"""A company snapshot that keeps answering when Bitrix24 does not.

Policy:
- the first question loads the snapshot (or the last good one from disk, if Bitrix24 is down);
- afterwards a background task refreshes it every ``ttl`` seconds; questions never wait for a
  refresh once a snapshot exists (stale-while-revalidate);
- when a refresh fails, the last good snapshot keeps answering, flagged stale, with its age
  and the error, so every answer can say how old its data is; it is never replaced by anything
  invented;
- the last good raw data is written to disk atomically, so a restart while Bitrix24 is down
  still answers (stale, with the age of the file's data).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from bitrix.clock import Clock
from bitrix.company import CompanySnapshot, MappingOptions, RawCompanyData
from bitrix.errors import BitrixError, BitrixMappingError

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[RawCompanyData]]

#: Seconds after a failed first load during which `get` fails fast instead of retrying.
FAILED_LOAD_BACKOFF = 15.0
#: Without a successful refresh for this many periods, data is reported stale.
STALE_AFTER_TTLS = 3
#: Seconds the background loop waits before trying Bitrix24 again after a failure.
RETRY_AFTER_FAILURE = 30.0


@dataclass(frozen=True)
class SnapshotView:
    """A snapshot with what a reader must know about it."""

    snapshot: CompanySnapshot
    #: Seconds since the data was fetched from Bitrix24.
    age_s: float
    #: True when the last attempt to refresh failed (the data may be out of date).
    stale: bool
    #: Why the last refresh failed, if it did.
    error: BitrixError | None
    #: Where the snapshot came from: "bitrix24" or "disk".
    source: str

    @property
    def fetched_at(self) -> datetime:
        """When the data was fetched from Bitrix24 (UTC)."""
        return self.snapshot.fetched_at


class SnapshotUnavailable(Exception):
    """No snapshot can be served: Bitrix24 failed and nothing was cached."""

    def __init__(self, cause: BitrixError) -> None:
        super().__init__(f"no company data: {cause}")
        self.cause = cause


class CompanyCache:
    """Holds the current snapshot, refreshes it in the background, persists it to disk."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        tz: tzinfo,
        options: MappingOptions,
        clock: Clock,
        ttl: float = 300.0,
        path: Path | None = None,
    ) -> None:
        self._fetch = fetch
        self._tz = tz
        self._options = options
        self._ttl = ttl
        self._path = path
        self._wall = clock
        # Ages compare the wall clock with `fetched_at` (which the loader read from the same
        # clock), so both must come from one `Clock`: with DEMO_DATE the clock runs shifted.
        self._clock: Callable[[], float] = lambda: clock.now().timestamp()
        self._snapshot: CompanySnapshot | None = None
        self._source = "bitrix24"
        self._error: BitrixError | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.last_success: float | None = None
        self.last_attempt: float | None = None
        self._failed_at: float | None = None
        self._failures = 0
        self.refreshes = 0

    @property
    def snapshot(self) -> CompanySnapshot | None:
        """The current snapshot, if any (no loading)."""
        return self._snapshot

    @property
    def last_error(self) -> BitrixError | None:
        """The error of the last failed refresh (cleared by a successful one)."""
        return self._error

    def view(self) -> SnapshotView | None:
        """The current snapshot with its age and staleness, without loading anything."""
        if self._snapshot is None:
            return None
        age = max(0.0, self._clock() - self._snapshot.fetched_at.timestamp())
        # No successful refresh for several periods is stale even without a recorded failure
        # (a refresh loop that stopped): the reader must be told the data's age.
        since = None if self.last_success is None else self._clock() - self.last_success
        too_old = self._ttl > 0 and since is not None and since > STALE_AFTER_TTLS * self._ttl
        return SnapshotView(
            snapshot=self._snapshot,
            age_s=age,
            stale=self._error is not None or self._source == "disk" or too_old,
            error=self._error,
            source=self._source,
        )

    async def get(self) -> SnapshotView:
        """The snapshot to answer from; loads it on first use.

        Raises :class:`SnapshotUnavailable` when Bitrix24 fails and there is no snapshot in
        memory or on disk.
        """
        view = self.view()
        if view is not None:
            if view.age_s > self._ttl and self._task is None:
                # No background loop (e.g. a one-shot CLI): refresh in line, but keep
                # answering from the old snapshot if that fails.
                with contextlib.suppress(BitrixError):
                    await self.refresh()
                return self.view() or view
            return view
        if (
            self._error is not None
            and self._failed_at is not None
            and self._clock() - self._failed_at < FAILED_LOAD_BACKOFF
        ):
            # Bitrix24 just failed and there is nothing to serve: say so at once instead of
            # making every waiting user sit through another round of retries.
            raise SnapshotUnavailable(self._error)
        try:
            await self.refresh()
        except BitrixError as exc:
            if not self._load_from_disk():
                raise SnapshotUnavailable(exc) from exc
        view = self.view()
        assert view is not None  # refresh or disk load succeeded
        return view

    async def refresh(self) -> CompanySnapshot:
        """Fetch from Bitrix24 now and replace the snapshot; raises BitrixError on failure."""
        failures_seen, refreshes_seen = self._failures, self.refreshes
        async with self._lock:
            if self._error is not None and self._failures != failures_seen:
                # Someone else's attempt failed while we waited for the lock: same answer.
                raise self._error
            if self._snapshot is not None and self.refreshes != refreshes_seen:
                # Someone else's attempt succeeded while we waited: that is fresh enough.
                return self._snapshot
            self.last_attempt = self._clock()
            started = time.perf_counter()
            try:
                raw = await self._fetch()
                # Building takes tens of milliseconds for a few hundred houses and grows with
                # the portal: off the event loop, so voice and text users are not stalled.
                snapshot = await asyncio.to_thread(self._build, raw)
            except BitrixError as exc:
                self._error = exc
                self._failed_at = self._clock()
                self._failures += 1
                log.warning("company refresh failed: %s", exc)
                raise
            self._snapshot = snapshot
            self._source = "bitrix24"
            self._error = None
            self.last_success = self._clock()
            self.refreshes += 1
            log.info(
                "company loaded: %d houses, %d people, %d tasks in %.2f s",
                len(snapshot.houses),
                len(snapshot.employees),
                len(snapshot.tasks),
                time.perf_counter() - started,
            )
            await asyncio.to_thread(self._save, raw)
            return snapshot

    def _build(self, raw: RawCompanyData) -> CompanySnapshot:
        """A snapshot from raw data; data it cannot read is a mapping error, not a crash, so
        the last good snapshot keeps answering (flagged stale) instead."""
        try:
            return CompanySnapshot(raw, tz=self._tz, options=self._options, clock=self._wall)
        except BitrixError:
            raise
        except Exception as exc:
            log.exception("could not build the company snapshot")
            raise BitrixMappingError(
                f"could not read the company data: {type(exc).__name__}: {exc}",
                admin_hint=(
                    "Данные Bitrix24 не удалось разобрать (подробности в журнале бота); "
                    "проверьте поля сделок командой audiobot fields."
                ),
            ) from exc

    def _save(self, raw: RawCompanyData) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=self._path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(raw.to_json(), handle, ensure_ascii=False)
            os.chmod(tmp, 0o600)  # the snapshot holds staff phone numbers
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not save the company snapshot to %s: %s", self._path, exc)

    def _load_from_disk(self) -> bool:
        if self._path is None or not self._path.exists():
            return False
        try:
            with self._path.open(encoding="utf-8") as handle:
                raw = RawCompanyData.from_json(json.load(handle))
            snapshot = CompanySnapshot(raw, tz=self._tz, options=self._options, clock=self._wall)
        except (OSError, ValueError, KeyError, TypeError, BitrixError) as exc:
            log.warning("could not read the company snapshot %s: %s", self._path, exc)
            return False
        self._snapshot = snapshot
        self._source = "disk"
        log.warning(
            "serving the company snapshot from disk, fetched %s",
            raw.fetched_at.astimezone(UTC).isoformat(timespec="seconds"),
        )
        return True

    async def start(self) -> None:
        """Start the background refresh loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="company-refresh")

    async def stop(self) -> None:
        """Stop the background refresh loop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            view = self.view()
            if self._error is not None:
                # Bitrix24 failed: retry sooner than the TTL, but do not hammer it.
                delay = max(1.0, min(self._ttl, RETRY_AFTER_FAILURE))
            elif view is None:
                delay = 0.0
            else:
                # A TTL of 0 would spin: refresh at most once a second.
                delay = max(1.0, self._ttl - view.age_s)
            await asyncio.sleep(delay)
            try:
                await self.refresh()
            except BitrixError:
                if self._snapshot is None:
                    self._load_from_disk()
            except Exception:
                log.exception("unexpected error while refreshing company data")
                await asyncio.sleep(RETRY_AFTER_FAILURE)
