"""A company snapshot that keeps answering when Bitrix24 does not.

Policy:
- the first question loads the snapshot (or the last good one from disk, if Bitrix24 is down);
- afterwards a background task refreshes it every ``ttl`` seconds; questions never wait for a
  refresh once a snapshot exists (stale-while-revalidate);
- when a refresh fails, the last good snapshot keeps answering, flagged stale, with its age
  and the error, so every answer can say how old its data is; it is never replaced by anything
  invented;
- the last good raw data is written to disk atomically, so a restart while Bitrix24 is down
  still answers (stale, with the age of the file's data); temp files orphaned by a kill
  during a write are removed when the cache starts;
- only a good snapshot replaces a good snapshot. A refresh that shrinks the company
  implausibly compared with the one serving (in memory, or the last good file on disk at
  start) is held back (`implausible_change` states the rule): it raises
  `BitrixImplausibleData`, so the last good snapshot keeps answering with a stale note, health
  says why, and nothing is written to disk. An admin who knows the change is real runs
  ``audiobot snapshot accept``: it leaves a marker file (`ACCEPT_MARKER`) next to the
  snapshot, and the next refresh takes the new data whatever its size and removes the marker
  (a refresh that passes the rule removes a leftover marker too, so it never waves through a
  later, unrelated shrink).

The rule (`implausible_change`), each against the snapshot serving now:
- houses fall to zero, or by more than `MAX_HOUSES_DROP` of them (and by more than
  `MIN_HOUSES_DROP` houses, so a small company can still close a few);
- active people fall to zero, or by more than `MAX_PEOPLE_DROP` (and `MIN_PEOPLE_DROP`);
- a house field that was filled on at least half the houses (apartments, entrances, floors,
  brigade) is now filled on less than half as many of them (`MAX_FIELD_DROP`).
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
from bitrix.errors import BitrixError, BitrixImplausibleData, BitrixMappingError

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[RawCompanyData]]

#: Seconds after a failed first load during which `get` fails fast instead of retrying.
FAILED_LOAD_BACKOFF = 15.0
#: Without a successful refresh for this many periods, data is reported stale.
STALE_AFTER_TTLS = 3
#: Seconds the background loop waits before trying Bitrix24 again after a failure.
RETRY_AFTER_FAILURE = 30.0
#: The plausibility rule of a refresh (see the module docstring).
MAX_HOUSES_DROP = 0.3
MIN_HOUSES_DROP = 10
MAX_PEOPLE_DROP = 0.5
MIN_PEOPLE_DROP = 5
MAX_FIELD_DROP = 0.5
#: Fields whose disappearance from most houses holds a refresh back.
GUARDED_FIELDS = ("apartments", "entrances", "floors", "brigade")
#: Name of the file, next to the snapshot, that tells the cache to accept the next refresh.
ACCEPT_MARKER = "accept-next-snapshot"
#: Prefix of the temp files a snapshot is written through (then renamed over the snapshot).
TEMP_PREFIX = ".snapshot-"


def implausible_change(old: CompanySnapshot, new: CompanySnapshot) -> list[str]:
    """Why ``new`` must not replace ``old`` (English operator lines); empty when it may."""
    reasons: list[str] = []

    def dropped(before: int, after: int, share: float, minimum: int) -> bool:
        if before > 0 and after == 0:
            return True
        return before - after > minimum and (before - after) > share * before

    houses_before, houses_after = len(old.houses), len(new.houses)
    if dropped(houses_before, houses_after, MAX_HOUSES_DROP, MIN_HOUSES_DROP):
        reasons.append(f"houses {houses_before} -> {houses_after}")
    people_before, people_after = len(old.employees), len(new.employees)
    if dropped(people_before, people_after, MAX_PEOPLE_DROP, MIN_PEOPLE_DROP):
        reasons.append(f"people {people_before} -> {people_after}")
    if houses_after:
        before = {c.field: c for c in old.statistics().coverage}
        for item in new.statistics().coverage:
            was = before.get(item.field)
            if item.field not in GUARDED_FIELDS or was is None or not was.total:
                continue
            share_before = was.filled / was.total
            share_after = item.filled / item.total if item.total else 0.0
            if share_before >= 0.5 and share_after < share_before * MAX_FIELD_DROP:
                reasons.append(
                    f"field {item.field} filled on {share_before:.0%} -> {share_after:.0%} "
                    "of the houses"
                )
    return reasons


def request_accept(cache_dir: Path) -> Path:
    """Tell the running bot to accept the next refresh whatever its size (`ACCEPT_MARKER`).

    What ``audiobot snapshot accept`` does; the bot needs no restart: its next refresh (within
    `RETRY_AFTER_FAILURE` seconds while one is held back) reads and removes the marker.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    marker = cache_dir / ACCEPT_MARKER
    marker.write_text("accept the next company snapshot whatever its size\n", encoding="utf-8")
    return marker


def held_back_error(old: CompanySnapshot, new: CompanySnapshot, reasons: list[str]) -> BitrixError:
    """The error a held-back refresh raises: operator line, user note, admin hint."""
    return BitrixImplausibleData(
        "refresh held back, the last good snapshot keeps serving: " + "; ".join(reasons),
        user_message=(
            f"Bitrix24 прислал неполные данные (домов {len(new.houses)} вместо "
            f"{len(old.houses)}, людей {len(new.employees)} вместо {len(old.employees)}), "
            "поэтому отвечаю по последним проверенным."
        ),
    )


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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._fetch = fetch
        # Injected so tests can drive the background loop without waiting.
        self._sleep = sleep
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
        #: Why the last refresh was held back (operator lines), while it is.
        self.held_back: list[str] | None = None
        self._cleaned = False

    @property
    def snapshot(self) -> CompanySnapshot | None:
        """The current snapshot, if any (no loading)."""
        return self._snapshot

    @property
    def accept_marker(self) -> Path | None:
        """The file whose presence makes the next refresh be accepted whatever its size."""
        return None if self._path is None else self._path.parent / ACCEPT_MARKER

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
            # `refresh` has already read the last good file, if there is one.
            if self._snapshot is None and not self._load_from_disk():
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
            if self._snapshot is None:
                # The last good file is the yardstick for the first refresh after a restart:
                # a portal that answers 0 houses at start must not overwrite it.
                await asyncio.to_thread(self._load_from_disk)
            try:
                raw = await self._fetch()
                # Building takes tens of milliseconds for a few hundred houses and grows with
                # the portal: off the event loop, so voice and text users are not stalled.
                snapshot = await asyncio.to_thread(self._build, raw)
                accepted = await asyncio.to_thread(self._judge, snapshot)
            except BitrixError as exc:
                self._error = exc
                self._failed_at = self._clock()
                self._failures += 1
                log.warning("company refresh failed: %s", exc)
                raise
            if accepted:
                log.warning("accepted a refresh an admin confirmed: %s", "; ".join(accepted))
            self.held_back = None
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

    def _judge(self, snapshot: CompanySnapshot) -> list[str]:
        """Blocking: hold ``snapshot`` back (raise) if it shrinks the company implausibly.

        Returns the reasons it would have been held back for when an admin's marker accepted
        it anyway (empty otherwise); removes the marker once a refresh is taken.
        """
        old = self._snapshot
        reasons = implausible_change(old, snapshot) if old is not None else []
        marker = self.accept_marker
        accepted = marker is not None and marker.exists()
        if reasons and not accepted:
            assert old is not None
            self.held_back = reasons
            raise held_back_error(old, snapshot, reasons)
        if marker is not None and accepted:
            with contextlib.suppress(OSError):
                marker.unlink()
        return reasons

    def clean_temp_files(self) -> int:
        """Remove snapshot temp files left by a process killed mid-write; how many were removed.

        A temp file is named ``.snapshot-<pid>-…``: one whose process still runs (another
        command sharing CACHE_DIR, writing right now) is left alone.
        """
        if self._path is None or not self._path.parent.is_dir():
            return 0
        removed = 0
        for entry in self._path.parent.glob(TEMP_PREFIX + "*"):
            pid_text = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
            pid = int(pid_text) if pid_text.isdigit() else None
            # Our own pid is a previous incarnation's (in a container the bot is often pid 1
            # every time): this runs before this cache writes anything.
            if pid is not None and pid != os.getpid() and _running(pid):
                continue
            with contextlib.suppress(OSError):
                entry.unlink()
                removed += 1
        if removed:
            log.warning(
                "removed %d orphaned snapshot temp file(s) in %s", removed, self._path.parent
            )
        return removed

    def _save(self, raw: RawCompanyData) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=self._path.parent
            )
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(raw.to_json(), handle, ensure_ascii=False)
            os.chmod(tmp, 0o600)  # the snapshot holds staff phone numbers
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not save the company snapshot to %s: %s", self._path, exc)

    def _load_from_disk(self) -> bool:
        if not self._cleaned:
            self._cleaned = True
            self.clean_temp_files()
        if self._path is None or not self._path.exists() or self._snapshot is not None:
            return False
        try:
            with self._path.open(encoding="utf-8") as handle:
                raw = RawCompanyData.from_json(json.load(handle))
            snapshot = CompanySnapshot(raw, tz=self._tz, options=self._options, clock=self._wall)
        except Exception as exc:
            # A damaged file (even one that parses: 'inf' cells, wrong shapes) is no snapshot;
            # it must never stop the refresh loop, which will replace it.
            log.warning("could not read the company snapshot %s: %r", self._path, exc)
            return False
        self._snapshot = snapshot
        self._source = "disk"
        log.info(
            "read the last good company snapshot from disk, fetched %s",
            raw.fetched_at.astimezone(UTC).isoformat(timespec="seconds"),
        )
        return True

    async def start(self) -> None:
        """Start the background refresh loop (idempotent)."""
        if not self._cleaned:
            self._cleaned = True
            await asyncio.to_thread(self.clean_temp_files)
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
            await self._sleep(delay)
            try:
                await self.refresh()
            except BitrixError:
                if self._snapshot is None:
                    await asyncio.to_thread(self._load_from_disk)
            except Exception:
                log.exception("unexpected error while refreshing company data")
                await self._sleep(RETRY_AFTER_FAILURE)


def _running(pid: int) -> bool:
    """Whether a process with this id exists (a temp file's writer may still be writing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
