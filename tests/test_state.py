"""The state store: migrations, concurrency, and surviving a kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.state import MIGRATIONS, SqliteState, StateUrlError, open_state, sqlite_path


async def test_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    state = SqliteState(path)
    assert not path.exists()  # nothing touches the disk before first use
    assert await state.linked(1) is None
    assert path.exists()
    assert await state.schema_version() == len(MIGRATIONS)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    await state.close()
    # Opening again runs no migration twice.
    again = SqliteState(path)
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = SqliteState(path)
    await state.links()
    await state.close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(RuntimeError, match="newer than this build"):
        await SqliteState(path).links()


async def test_links_preferences_marks_pending_journal(tmp_path: Path) -> None:
    now = [1000.0]
    state = SqliteState(tmp_path / "s.db", clock=lambda: now[0])
    await state.link(42, "17")
    await state.link(42, "18")  # a new link replaces the old one
    [link] = await state.links()
    assert (link.telegram_id, link.employee_id) == (42, "18")
    assert await state.unlink(42) is True
    assert await state.unlink(42) is False
    await state.set_preference(42, "digest", "off")
    assert await state.preference(42, "digest") == "off"
    assert await state.preference(43, "digest") is None
    assert await state.mark_once("digest:2026-11-25:42") is True
    assert await state.mark_once("digest:2026-11-25:42") is False
    await state.unmark("digest:2026-11-25:42")
    assert await state.mark_once("digest:2026-11-25:42") is True
    await state.put_preview("c1", "tg:42", {"task": "проверить подвал"}, ttl_s=600)
    await state.put_preview("c2", "tg:42", {"x": 1}, ttl_s=10)
    now[0] += 60
    assert (await state.claim_write("c1", "tg:7", lease_s=60)).outcome == "foreign"
    claim = await state.claim_write("c1", "tg:42", lease_s=60)
    assert (claim.outcome, claim.payload) == ("claimed", {"task": "проверить подвал"})
    assert (await state.claim_write("c1", "tg:42", lease_s=60)).outcome == "busy"
    assert (await state.claim_write("c2", "tg:42", lease_s=60)).outcome == "expired"
    assert (await state.claim_write("c2", "tg:42", lease_s=60)).outcome == "missing"
    first = await state.journal("tg:42", "task.create", {"bitrix_id": 301})
    second = await state.journal("tg:42", "calendar.create", {"bitrix_id": 7})
    assert second > first
    assert [e.kind for e in await state.journal_entries()] == ["calendar.create", "task.create"]
    await state.close()


async def test_a_write_is_claimed_once_and_retried_only_after_its_lease(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "state.db"
    state = open_state(f"sqlite:///{path}", clock=lambda: now[0])
    await state.put_preview("k1", "tg:1", {"n": 1}, ttl_s=600)
    assert await state.latest_preview("tg:1") == ("k1", {"n": 1})
    assert await state.update_preview("k1", "tg:1", {"n": 1, "photos": 2}) is True
    assert await state.update_preview("k1", "tg:2", {"n": 0}) is False
    assert await state.cancel_preview("k1", "tg:2") == ("foreign", None)
    assert (await state.claim_write("k1", "tg:1", lease_s=30)).payload == {"n": 1, "photos": 2}
    assert await state.cancel_preview("k1", "tg:1") == ("done", None)  # too late to cancel
    await state.close()
    # The process died mid-write: after a restart the row is still running, under its lease.
    state = open_state(f"sqlite:///{path}", clock=lambda: now[0])
    assert (await state.claim_write("k1", "tg:1", lease_s=30)).outcome == "busy"
    now[0] += 31
    retry = await state.claim_write("k1", "tg:1", lease_s=30)
    assert (retry.outcome, retry.attempts) == ("retry", 2)
    await state.finish_write("k1", "written", {"id": 5})
    await state.finish_write("k1", "failed", {"error": "late"})  # never reopens a written row
    done = await state.claim_write("k1", "tg:1", lease_s=30)
    assert (done.outcome, done.result) == ("done", {"id": 5})
    await state.put_preview("k2", "tg:1", {}, ttl_s=600)
    assert await state.cancel_preview("k2", "tg:1") == ("claimed", {})
    assert (await state.claim_write("k2", "tg:1", lease_s=30)).outcome == "missing"
    await state.close()


async def test_concurrent_tasks_each_mark_once(tmp_path: Path) -> None:
    state = SqliteState(tmp_path / "s.db")
    results = await asyncio.gather(*(state.mark_once("same") for _ in range(50)))
    assert sorted(results) == [False] * 49 + [True]
    await asyncio.gather(*(state.link(i, str(i)) for i in range(100)))
    assert len(await state.links()) == 100
    await state.close()


def test_urls() -> None:
    assert sqlite_path("sqlite:///var/state.db") == Path("var/state.db")
    assert sqlite_path("sqlite:////srv/bot/state.db") == Path("/srv/bot/state.db")
    assert sqlite_path("sqlite:///:memory:") is None
    with pytest.raises(StateUrlError, match="sqlite:///"):
        open_state("postgresql://db/bot")


def test_a_link_survives_kill_9(tmp_path: Path) -> None:
    """A process writes a link and is SIGKILLed while still running; a new one reads it."""
    path = tmp_path / "state.db"
    writer = textwrap.dedent(
        f"""
        import asyncio, sys, time
        from pathlib import Path
        from bot.state import SqliteState

        async def main():
            state = SqliteState(Path({str(path)!r}))
            await state.link(777, "91")
            await state.set_preference(777, "digest", "off")
            print("written", flush=True)
            time.sleep(60)  # killed here, connection open, nothing closed

        asyncio.run(main())
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", writer],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "written"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()

    async def read() -> tuple[object, object]:
        state = SqliteState(path)
        link = await state.linked(777)
        preference = await state.preference(777, "digest")
        await state.close()
        return link, preference

    link, preference = asyncio.run(read())
    assert link is not None and getattr(link, "employee_id", None) == "91"
    assert preference == "off"


async def test_inbox_records_once_marks_answered_and_prunes(tmp_path: Path) -> None:
    now = [1000.0]
    state = SqliteState(tmp_path / "s.db", clock=lambda: now[0])
    batch = [{"update_id": n, "message": {"text": f"вопрос {n}"}} for n in (7, 5, 6)]
    assert sorted(await state.record_updates(batch)) == [5, 6, 7]
    # The same ids again (Telegram redelivering, a webhook retry): nothing is new.
    assert await state.record_updates([*batch, {"update_id": 8}]) == [8]
    await state.mark_answered(6)
    await state.start_attempt(5)
    pending = await state.unanswered()
    assert [i.update_id for i in pending] == [5, 7, 8]
    assert pending[0].payload == {"update_id": 5, "message": {"text": "вопрос 5"}}
    assert (pending[0].received_at, pending[0].attempts, pending[1].attempts) == (1000.0, 2, 1)
    assert await state.record_updates([{"update_id": 6}]) == []  # answered: still a duplicate
    now[0] += 100
    assert await state.prune_inbox(older_than_s=50) == 1  # only answered rows go
    assert [i.update_id for i in await state.unanswered()] == [5, 7, 8]
    await state.close()
