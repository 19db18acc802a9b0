"""The bot's own durable state: who is linked to whom, preferences, one-time marks,
pending confirmations and the write journal.

`StateStore` is the one interface callers see; `open_state(STATE_URL)` picks the backend.
Today that is `SqliteState` (``sqlite:///var/state.db``, the default): a file next to the
bot, created and migrated on first use, surviving restarts and a ``kill -9``. A server
database can back the same protocol later without touching a caller.

Why the standard library's ``sqlite3`` and not an async driver or an ORM: the data is tiny
(one row per employee and per morning), writes are rare, and sqlite3 ships with Python, so
the bot needs no extra package and no database server. Its calls block, so each one runs in a
worker thread (`asyncio.to_thread`) on one connection guarded by a lock: the event loop never
waits on the disk, and concurrent tasks (updates handled at once, the digest) are serialised
by the lock. The file is in WAL mode with ``synchronous=FULL``: a committed write is on disk
before the call returns, and a killed process never leaves a half-written database.

Schema changes are migrations: `MIGRATIONS` is an append-only list of SQL scripts, and
``schema_version`` records how many ran. To grow the store (a durable inbox, say), append a
script creating the new table and add methods for it to the protocol and the backend.

The inbox (migration 2) makes "every update answered exactly once" survive a ``kill -9``:
each Telegram update is recorded before Telegram is told it arrived (the next getUpdates
offset, or the webhook's HTTP 200), marked answered when its handlers finished, and the
unanswered ones are handled again at the next start (`handlers.inbox`).

Writes into Bitrix24 (migration 3, `bot.actions`) are exactly once through two tables. A preview
waits in ``pending`` under a random key for its own ``actor``. Confirming moves it, in one
transaction, into ``writes`` as ``running`` with a lease (`claim_write`): a second press, a
retried callback or a second replica finds the row and does not write. The outcome is
recorded after the call (`finish_write`). A process that dies mid-write leaves ``running``
with a lease that runs out; the next confirmation of that key is a ``retry``, which looks the
object up in Bitrix24 by the key before writing (`bitrix.writes`).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

__all__ = [
    "InboxItem",
    "JournalEntry",
    "Link",
    "SqliteState",
    "StateStore",
    "WriteClaim",
    "open_state",
]

T = TypeVar("T")

DEFAULT_URL = "sqlite:///var/state.db"

#: Append only: each script moves the schema one version up (never edit a released one).
MIGRATIONS: tuple[str, ...] = (
    # 1: links, preferences, one-time marks, pending confirmations, the write journal.
    """
    CREATE TABLE links (
        telegram_id INTEGER PRIMARY KEY,
        employee_id TEXT NOT NULL,
        linked_at REAL NOT NULL
    );
    CREATE TABLE preferences (
        telegram_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (telegram_id, name)
    );
    CREATE TABLE marks (
        mark TEXT PRIMARY KEY,
        made_at REAL NOT NULL
    );
    CREATE TABLE pending (
        key TEXT PRIMARY KEY,
        payload TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    """,
    # 2: the durable inbox of Telegram updates (answered_at NULL: not answered yet).
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        payload TEXT NOT NULL,
        received_at REAL NOT NULL,
        answered_at REAL,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX inbox_unanswered ON inbox (answered_at, update_id);
    """,
    # 3: confirmed writes into Bitrix24, one row per idempotency key (`WriteClaim`).
    """
    CREATE TABLE writes (
        key TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        result TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        lease_until REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    ALTER TABLE pending ADD COLUMN actor TEXT NOT NULL DEFAULT '';
    CREATE INDEX pending_actor ON pending (actor, expires_at);
    """,
)

#: How long an expired preview is remembered, so a late ✅ hears "expired", not "unknown".
EXPIRED_GRACE_S = 86_400.0


@dataclass(frozen=True)
class Link:
    """A Telegram user signed in as a Bitrix24 employee."""

    telegram_id: int
    employee_id: str
    linked_at: float


@dataclass(frozen=True)
class JournalEntry:
    """One journaled action: who, what, when, and its details (e.g. the Bitrix24 id)."""

    id: int
    at: float
    actor: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class InboxItem:
    """An update recorded in the inbox and not answered yet."""

    update_id: int
    payload: dict[str, Any]
    received_at: float
    #: How many times handling it started before (0: never).
    attempts: int


WriteStatus = Literal["running", "written", "failed", "unconfirmed"]
ClaimOutcome = Literal["claimed", "retry", "busy", "done", "foreign", "expired", "missing"]


@dataclass(frozen=True)
class WriteClaim:
    """The answer to "may I write this confirmed preview now?" (`StateStore.claim_write`).

    The preview and write methods take ``now`` (epoch seconds) from the caller, so the
    product's one clock decides when a preview expires (tests move it); without it, the
    store's own clock.

    - ``claimed``: the preview was pending and is now a running write: write it
      (``attempts`` is 1).
    - ``retry``: an earlier attempt failed, could not be confirmed, or its process died (its
      lease ran out): write again *checking first* whether the earlier one reached Bitrix24.
    - ``busy``: another attempt holds the lease right now (a double press, a second replica).
    - ``done``: already written; ``result`` says what was created.
    - ``foreign``: the preview belongs to someone else; nothing changed.
    - ``expired``: the preview's time ran out; it is gone now.
    - ``missing``: no such preview (cancelled, or never made).
    """

    outcome: ClaimOutcome
    payload: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    attempts: int = 0


class StateStore(Protocol):
    """What the bot keeps between runs. Every method is safe to call from concurrent tasks."""

    # links (docs/telegram-setup.md, 2a)
    async def link(self, telegram_id: int, employee_id: str) -> None:
        """Link a Telegram user to an employee (replacing an earlier link of that user)."""

    async def unlink(self, telegram_id: int) -> bool:
        """Remove a user's link; False if there was none."""

    async def linked(self, telegram_id: int) -> Link | None:
        """The user's link, if any."""

    async def links(self) -> list[Link]:
        """Every link, oldest first."""

    # per-user preferences
    async def preference(self, telegram_id: int, name: str) -> str | None:
        """A user's preference value, None when never set."""

    async def set_preference(self, telegram_id: int, name: str, value: str) -> None:
        """Set a user's preference."""

    # one-time marks ("the digest of 2026-11-25 went to user 42")
    async def mark_once(self, mark: str) -> bool:
        """Make ``mark`` if it is new: True for the first caller ever, False afterwards."""

    async def unmark(self, mark: str) -> None:
        """Remove a mark (the work it stood for did not happen after all)."""

    # pending confirmations (writes into Bitrix24 wait for the user's yes)
    async def put_preview(
        self,
        key: str,
        actor: str,
        payload: dict[str, Any],
        ttl_s: float,
        *,
        now: float | None = None,
    ) -> None:
        """Keep a write preview until ``actor`` confirms, cancels or ``ttl_s`` passes."""

    async def update_preview(
        self, key: str, actor: str, payload: dict[str, Any], *, now: float | None = None
    ) -> bool:
        """Replace a pending preview's payload (photos added); False if it is gone or foreign."""

    async def latest_preview(
        self, actor: str, *, now: float | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """``actor``'s newest preview still waiting for an answer."""

    async def cancel_preview(
        self, key: str, actor: str, *, now: float | None = None
    ) -> tuple[ClaimOutcome, dict[str, Any] | None]:
        """Drop a pending preview: ``claimed`` (cancelled now) or why not, and its payload."""

    async def claim_write(
        self, key: str, actor: str, lease_s: float, *, now: float | None = None
    ) -> WriteClaim:
        """Atomically turn a confirmed preview into a running write (see `WriteClaim`)."""

    async def finish_write(
        self, key: str, status: WriteStatus, result: dict[str, Any], *, now: float | None = None
    ) -> None:
        """Record how an attempt ended; ``written`` is final."""

    async def journal(self, actor: str, kind: str, payload: dict[str, Any]) -> int:
        """Record an action; returns its journal id."""

    async def journal_entries(self, limit: int = 100) -> list[JournalEntry]:
        """The latest entries, newest first."""

    # the inbox of Telegram updates (see the module docstring)
    async def record_updates(self, updates: list[dict[str, Any]]) -> list[int]:
        """Record a batch of updates in one transaction; returns the ids that were new.

        An update_id already recorded (answered or not) is left as it was: a duplicate.
        """

    async def start_attempt(self, update_id: int) -> None:
        """Count one more attempt at handling an update."""

    async def mark_answered(self, update_id: int) -> None:
        """The update's handlers finished (a reply, a refusal, or the error sentence)."""

    async def unanswered(self) -> list[InboxItem]:
        """Every recorded update not answered yet, oldest update_id first."""

    async def prune_inbox(self, older_than_s: float) -> int:
        """Forget answered updates received more than ``older_than_s`` ago; returns how many."""

    async def close(self) -> None:
        """Release the backend (further calls reopen it)."""


class StateUrlError(ValueError):
    """``STATE_URL`` names no backend this build has."""


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///relative`` / ``sqlite:////absolute`` URL (None: in memory)."""
    if not url.startswith("sqlite:///"):
        raise StateUrlError(
            f"STATE_URL must start with sqlite:/// (e.g. {DEFAULT_URL}); "
            "other databases are not supported yet"
        )
    rest = url[len("sqlite:///") :]
    if rest in ("", ":memory:"):
        return None
    return Path(rest)


def open_state(url: str = DEFAULT_URL, *, clock: Callable[[], float] = time.time) -> StateStore:
    """The store behind ``url`` (opened lazily: nothing touches the disk before first use)."""
    return SqliteState(sqlite_path(url), clock=clock)


class SqliteState:
    """`StateStore` on one SQLite file (see the module docstring)."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        if self.path is None:
            connection = sqlite3.connect(":memory:", check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
            connection = sqlite3.connect(
                self.path, check_same_thread=False, timeout=30.0, isolation_level=None
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
        connection.isolation_level = None
        try:
            self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            row = connection.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if row is None:
                connection.execute("INSERT INTO schema_version VALUES (0)")
            if version > len(MIGRATIONS):
                msg = (
                    f"the state database has schema version {version}, newer than this "
                    f"build knows ({len(MIGRATIONS)}); upgrade AudioBot"
                )
                raise RuntimeError(msg)
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("UPDATE schema_version SET version = ?", (number,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one transaction, under the lock (called in a worker thread)."""
        with self._lock:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._run, work)

    async def schema_version(self) -> int:
        """The schema version of the open database (migrations ran)."""
        row = await self._call(
            lambda c: c.execute("SELECT version FROM schema_version").fetchone()
        )
        return int(row[0])

    # ------------------------------------------------------------------ links
    async def link(self, telegram_id: int, employee_id: str) -> None:
        now = self._clock()
        await self._call(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO links VALUES (?, ?, ?)", (telegram_id, employee_id, now)
            )
        )

    async def unlink(self, telegram_id: int) -> bool:
        cursor = await self._call(
            lambda c: c.execute("DELETE FROM links WHERE telegram_id = ?", (telegram_id,))
        )
        return cursor.rowcount > 0

    async def linked(self, telegram_id: int) -> Link | None:
        row = await self._call(
            lambda c: c.execute(
                "SELECT telegram_id, employee_id, linked_at FROM links WHERE telegram_id = ?",
                (telegram_id,),
            ).fetchone()
        )
        return Link(*row) if row else None

    async def links(self) -> list[Link]:
        rows = await self._call(
            lambda c: c.execute(
                "SELECT telegram_id, employee_id, linked_at FROM links ORDER BY linked_at"
            ).fetchall()
        )
        return [Link(*row) for row in rows]

    # ------------------------------------------------------------------ preferences
    async def preference(self, telegram_id: int, name: str) -> str | None:
        row = await self._call(
            lambda c: c.execute(
                "SELECT value FROM preferences WHERE telegram_id = ? AND name = ?",
                (telegram_id, name),
            ).fetchone()
        )
        return str(row[0]) if row else None

    async def set_preference(self, telegram_id: int, name: str, value: str) -> None:
        await self._call(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO preferences VALUES (?, ?, ?)", (telegram_id, name, value)
            )
        )

    # ------------------------------------------------------------------ marks
    async def mark_once(self, mark: str) -> bool:
        now = self._clock()
        cursor = await self._call(
            lambda c: c.execute("INSERT OR IGNORE INTO marks VALUES (?, ?)", (mark, now))
        )
        return cursor.rowcount == 1

    async def unmark(self, mark: str) -> None:
        await self._call(lambda c: c.execute("DELETE FROM marks WHERE mark = ?", (mark,)))

    # ------------------------------------------------------------------ writes
    async def put_preview(
        self,
        key: str,
        actor: str,
        payload: dict[str, Any],
        ttl_s: float,
        *,
        now: float | None = None,
    ) -> None:
        now = self._clock() if now is None else now
        text = json.dumps(payload, ensure_ascii=False)

        def put(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM pending WHERE expires_at < ?", (now - EXPIRED_GRACE_S,))
            c.execute(
                "INSERT OR REPLACE INTO pending (key, payload, expires_at, actor) "
                "VALUES (?, ?, ?, ?)",
                (key, text, now + ttl_s, actor),
            )

        await self._call(put)

    async def update_preview(
        self, key: str, actor: str, payload: dict[str, Any], *, now: float | None = None
    ) -> bool:
        now = self._clock() if now is None else now
        text = json.dumps(payload, ensure_ascii=False)
        cursor = await self._call(
            lambda c: c.execute(
                "UPDATE pending SET payload = ? WHERE key = ? AND actor = ? AND expires_at >= ?",
                (text, key, actor, now),
            )
        )
        return cursor.rowcount == 1

    async def latest_preview(
        self, actor: str, *, now: float | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        now = self._clock() if now is None else now
        row = await self._call(
            lambda c: c.execute(
                "SELECT key, payload FROM pending WHERE actor = ? AND expires_at >= ? "
                "ORDER BY expires_at DESC LIMIT 1",
                (actor, now),
            ).fetchone()
        )
        return (str(row[0]), json.loads(row[1])) if row else None

    async def cancel_preview(
        self, key: str, actor: str, *, now: float | None = None
    ) -> tuple[ClaimOutcome, dict[str, Any] | None]:
        now = self._clock() if now is None else now

        def cancel(c: sqlite3.Connection) -> tuple[ClaimOutcome, dict[str, Any] | None]:
            if c.execute("SELECT 1 FROM writes WHERE key = ?", (key,)).fetchone():
                return "done", None
            row = c.execute(
                "SELECT actor, expires_at, payload FROM pending WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return "missing", None
            if row[0] != actor:
                return "foreign", None
            c.execute("DELETE FROM pending WHERE key = ?", (key,))
            return ("expired" if row[1] < now else "claimed"), json.loads(row[2])

        return await self._call(cancel)

    async def claim_write(
        self, key: str, actor: str, lease_s: float, *, now: float | None = None
    ) -> WriteClaim:
        now = self._clock() if now is None else now

        def claim(c: sqlite3.Connection) -> WriteClaim:
            row = c.execute(
                "SELECT actor, status, payload, result, attempts, lease_until "
                "FROM writes WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None:
                owner, status, payload, result, attempts, lease_until = row
                loaded = json.loads(payload)
                done = json.loads(result) if result else None
                if status == "written":
                    return WriteClaim("done", loaded, done, attempts)
                if owner != actor:
                    return WriteClaim("foreign")
                if status == "running" and lease_until > now:
                    return WriteClaim("busy", loaded, done, attempts)
                c.execute(
                    "UPDATE writes SET status = 'running', attempts = attempts + 1, "
                    "lease_until = ?, updated_at = ? WHERE key = ?",
                    (now + lease_s, now, key),
                )
                return WriteClaim("retry", loaded, done, attempts + 1)
            pending = c.execute(
                "SELECT actor, payload, expires_at FROM pending WHERE key = ?", (key,)
            ).fetchone()
            if pending is None:
                return WriteClaim("missing")
            if pending[0] != actor:
                return WriteClaim("foreign")
            if pending[2] < now:
                c.execute("DELETE FROM pending WHERE key = ?", (key,))
                return WriteClaim("expired", json.loads(pending[1]))
            c.execute("DELETE FROM pending WHERE key = ?", (key,))
            c.execute(
                "INSERT INTO writes (key, actor, status, payload, attempts, lease_until, "
                "updated_at) VALUES (?, ?, 'running', ?, 1, ?, ?)",
                (key, actor, pending[1], now + lease_s, now),
            )
            return WriteClaim("claimed", json.loads(pending[1]), None, 1)

        return await self._call(claim)

    async def finish_write(
        self, key: str, status: WriteStatus, result: dict[str, Any], *, now: float | None = None
    ) -> None:
        now = self._clock() if now is None else now
        text = json.dumps(result, ensure_ascii=False)
        await self._call(
            lambda c: c.execute(
                # A written row is final: a late failure report must not reopen it.
                "UPDATE writes SET status = ?, result = ?, lease_until = 0, updated_at = ? "
                "WHERE key = ? AND status != 'written'",
                (status, text, now, key),
            )
        )

    # ------------------------------------------------------------------ journal
    async def journal(self, actor: str, kind: str, payload: dict[str, Any]) -> int:
        now = self._clock()
        text = json.dumps(payload, ensure_ascii=False)
        cursor = await self._call(
            lambda c: c.execute(
                "INSERT INTO journal (at, actor, kind, payload) VALUES (?, ?, ?, ?)",
                (now, actor, kind, text),
            )
        )
        return int(cursor.lastrowid or 0)

    async def journal_entries(self, limit: int = 100) -> list[JournalEntry]:
        rows = await self._call(
            lambda c: c.execute(
                "SELECT id, at, actor, kind, payload FROM journal ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        )
        return [JournalEntry(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # ------------------------------------------------------------------ inbox
    async def record_updates(self, updates: list[dict[str, Any]]) -> list[int]:
        now = self._clock()
        rows = [(int(u["update_id"]), json.dumps(u, ensure_ascii=False), now) for u in updates]

        def record(c: sqlite3.Connection) -> list[int]:
            new = []
            for row in rows:
                cursor = c.execute(
                    # attempts = 1: handling starts right after the record.
                    "INSERT OR IGNORE INTO inbox (update_id, payload, received_at, attempts) "
                    "VALUES (?, ?, ?, 1)",
                    row,
                )
                if cursor.rowcount == 1:
                    new.append(row[0])
            return new

        return await self._call(record) if rows else []

    async def start_attempt(self, update_id: int) -> None:
        await self._call(
            lambda c: c.execute(
                "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ?", (update_id,)
            )
        )

    async def mark_answered(self, update_id: int) -> None:
        now = self._clock()
        await self._call(
            lambda c: c.execute(
                "UPDATE inbox SET answered_at = ? WHERE update_id = ? AND answered_at IS NULL",
                (now, update_id),
            )
        )

    async def unanswered(self) -> list[InboxItem]:
        rows = await self._call(
            lambda c: c.execute(
                "SELECT update_id, payload, received_at, attempts FROM inbox "
                "WHERE answered_at IS NULL ORDER BY update_id"
            ).fetchall()
        )
        return [InboxItem(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]

    async def prune_inbox(self, older_than_s: float) -> int:
        cutoff = self._clock() - older_than_s
        cursor = await self._call(
            lambda c: c.execute(
                "DELETE FROM inbox WHERE answered_at IS NOT NULL AND received_at < ?", (cutoff,)
            )
        )
        return int(cursor.rowcount)

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

        await asyncio.to_thread(close)
