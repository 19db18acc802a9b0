"""Writes by voice, below Telegram: `Assistant.ask` → preview → `Actions.confirm` → Bitrix24.

Everything is real but the chat: the emulated portal over HTTP, the SQLite state store in a
file, the language engine, the product clock (a `FixedClock`, moved explicitly). What was
written is read back with plain REST calls, not through the code under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bitrix.clock import FixedClock
from bitrix.portal import EmulatedPortal, Fault, PortalOptions, PortalStore
from bitrix.writes import BitrixWriter
from bot.actions import Actions, Actor, Plan
from bot.config import Settings
from bot.runtime import Runtime
from bot.state import open_state
from tests.bot.harness import TODAY

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
HOUSE = "Майская 8"


@pytest.fixture
async def portal(store: PortalStore) -> AsyncIterator[EmulatedPortal]:
    async with EmulatedPortal(store, PortalOptions()) as running:
        yield running


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def runtime(
    portal: EmulatedPortal, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Runtime]:
    settings = Settings(
        _env_file=None,
        bitrix_webhook_url=portal.webhook_url,
        cache_dir=tmp_path / "cache",
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        photo_dir=tmp_path / "photos",
        demo_date=TODAY,
        api_port=0,
    )
    runtime = await Runtime.create(settings, notice=None, clock=clock)
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def rest(portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=portal.webhook_url, timeout=30) as http:
        response = await http.post(f"{method}.json", json=params)
        response.raise_for_status()
        return response.json()["result"]


async def tasks_of_deal(portal: EmulatedPortal, deal_id: str) -> list[dict[str, Any]]:
    """Tasks bound to a deal, read back over REST (all pages)."""
    found: list[dict[str, Any]] = []
    start = 0
    while True:
        page = await rest(
            portal,
            "tasks.task.list",
            {"select": ["ID", "TITLE", "RESPONSIBLE_ID", "DEADLINE", "DESCRIPTION",
                        "UF_CRM_TASK", "UF_TASK_WEBDAV_FILES"], "start": start},
        )  # fmt: skip
        tasks = page["tasks"] if isinstance(page, dict) else page
        found += [t for t in tasks if f"D_{deal_id}" in (t.get("ufCrmTask") or [])]
        if len(tasks) < 50:
            return found
        start += 50


def deal_id_of(store: PortalStore, title: str) -> str:
    [deal] = [d for d in store.deals.values() if d["TITLE"] == title]
    return str(deal["ID"])


def brigade_head_of(store: PortalStore, deal_id: str) -> str:
    """The head of the house's brigade, from raw records: deal → assigned user → department."""
    deal = store.deals[int(deal_id)]
    user = store.users[int(deal["ASSIGNED_BY_ID"])]
    [department] = [int(d) for d in user["UF_DEPARTMENT"]]
    return str(store.departments[department]["UF_HEAD"])


def employee_actor(runtime: Runtime, telegram_id: int = 77) -> Actor:
    view = runtime.cache.view()
    assert view is not None
    person = next(p for p in view.snapshot.employees.values() if p.brigade == 1)
    return Actor(f"tg:{telegram_id}", person.full_name, person)


async def test_a_problem_report_previews_then_writes_one_task_for_the_brigade_head(
    runtime: Runtime, portal: EmulatedPortal, store: PortalStore
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    deal_id = deal_id_of(store, HOUSE)
    reply = await runtime.assistant.ask(
        "на майской восемь сломан домофон", actor=actor, asker=actor.employee
    )
    assert reply.frame.intent == "house.problem" and reply.confirm_key
    assert reply.to_json()["confirm"] is True
    head = store.users[int(brigade_head_of(store, deal_id))]
    assert f"• Дом: {HOUSE} (привязка к сделке №{deal_id})" in reply.text
    assert f"• Ответственный: {head['LAST_NAME']}" in reply.text
    assert portal.count("tasks.task.add") == 0  # nothing before ✅
    outcome = await runtime.assistant.actions.confirm(reply.confirm_key, actor)  # type: ignore[union-attr]
    assert outcome.kind == "written" and outcome.written is not None
    [task] = await tasks_of_deal(portal, deal_id)
    assert str(task["id"]) == str(outcome.written.id)
    assert str(task["responsibleId"]) == brigade_head_of(store, deal_id)
    assert "домофон" in task["title"].lower()
    assert (
        actor.name in task["description"]
        and f"[audiobot:{reply.confirm_key}]" in task["description"]
    )
    assert f"№{task['id']}" in outcome.text and "/tasks/task/view/" in outcome.text
    [entry, *_] = await runtime.state.journal_entries()
    assert (entry.kind, entry.payload["bitrix_id"]) == ("write.done", int(task["id"]))


async def test_ask_without_an_actor_only_previews(
    runtime: Runtime, portal: EmulatedPortal
) -> None:
    reply = await runtime.assistant.ask("поставь задачу ершовой проверить подвал до пятницы")
    assert reply.frame.intent == "task.create"
    assert reply.to_json()["confirm"] is True and reply.confirm_key == ""
    assert "Ершова" in reply.text and "27 ноября (пт), 18:00" in reply.text
    assert portal.count("tasks.task.add") == 0


@pytest.mark.parametrize("replicas", [1, 2], ids=["double-press", "two-replicas"])
async def test_confirming_twice_at_once_writes_once(
    runtime: Runtime, portal: EmulatedPortal, store: PortalStore, tmp_path: Path, replicas: int
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    reply = await runtime.assistant.ask("на майской 8 сломан домофон", actor=actor)
    actions = runtime.assistant.actions
    assert actions is not None
    second = actions
    if replicas == 2:
        # Another process on the same state database: its own connection, its own client.
        state = open_state(f"sqlite:///{tmp_path / 'state.db'}")
        second = Actions(
            state=state,
            writer=BitrixWriter(runtime.client),
            tz=actions.tz,
            now=actions.now,
            portal_url=portal.webhook_url,
        )
    outcomes = await asyncio.gather(
        actions.confirm(reply.confirm_key, actor),
        second.confirm(reply.confirm_key, actor),
        actions.confirm(reply.confirm_key, actor),
    )
    kinds = sorted(o.kind for o in outcomes)
    assert kinds.count("written") == 1, kinds
    assert set(kinds) - {"written"} <= {"busy", "done"}
    assert portal.count("tasks.task.add") == 1
    assert len(await tasks_of_deal(portal, deal_id_of(store, HOUSE))) == 1
    again = await actions.confirm(reply.confirm_key, actor)
    assert again.kind == "done" and again.text.startswith("Уже записано.")
    if second is not actions:
        await second.state.close()


async def test_cancel_expiry_and_someone_elses_press_write_nothing(
    runtime: Runtime, portal: EmulatedPortal, clock: FixedClock
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    other = employee_actor(runtime, telegram_id=78)
    actions = runtime.assistant.actions
    assert actions is not None
    first = await runtime.assistant.ask("на майской 8 сломан домофон", actor=actor)
    refused = await actions.confirm(first.confirm_key, other)
    assert refused.kind == "foreign" and not refused.final
    assert (await actions.cancel(first.confirm_key, actor)).kind == "cancelled"
    assert (await actions.confirm(first.confirm_key, actor)).kind == "missing"
    late = await runtime.assistant.ask("на майской 8 сломан домофон", actor=actor)
    clock.advance(timedelta(seconds=actions.confirm_ttl_s + 1))
    expired = await actions.confirm(late.confirm_key, actor)
    assert expired.kind == "expired" and "истекло" in expired.text
    assert portal.count("tasks.task.add") == 0
    kinds = [e.kind for e in await runtime.state.journal_entries()]
    assert kinds[:2] == ["write.expired", "write.preview"] and "write.cancelled" in kinds


async def test_a_503_fails_clearly_and_the_retry_writes_once(
    runtime: Runtime, portal: EmulatedPortal, store: PortalStore
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    actions = runtime.assistant.actions
    assert actions is not None
    reply = await runtime.assistant.ask("на майской 8 сломан домофон", actor=actor)
    portal.inject_fault(Fault.QUERY_LIMIT, method="tasks.task.add", count=50)
    failed = await actions.confirm(reply.confirm_key, actor)
    assert failed.kind == "failed" and not failed.final
    assert "ничего не записано" in failed.text
    [entry, *_] = await runtime.state.journal_entries()
    assert entry.kind == "write.failed"
    assert len(await tasks_of_deal(portal, deal_id_of(store, HOUSE))) == 0
    portal.clear_faults()
    retried = await actions.confirm(reply.confirm_key, actor)
    assert retried.kind == "written"
    assert len(await tasks_of_deal(portal, deal_id_of(store, HOUSE))) == 1


async def test_a_lost_answer_is_found_by_its_key_not_written_again(
    runtime: Runtime, portal: EmulatedPortal, store: PortalStore
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    actions = runtime.assistant.actions
    assert actions is not None
    reply = await runtime.assistant.ask("майская 8 убрали", actor=actor)
    assert reply.frame.intent == "house.done"
    portal.inject_fault(Fault.DROP_AFTER, method="crm.timeline.comment.add")
    outcome = await actions.confirm(reply.confirm_key, actor)
    assert outcome.kind == "written" and outcome.written is not None
    assert outcome.written.recovered
    comments = await rest(
        portal,
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": deal_id_of(store, HOUSE), "ENTITY_TYPE": "deal"}},
    )
    mine = [c for c in comments if f"[audiobot:{reply.confirm_key}]" in c["COMMENT"]]
    assert len(mine) == 1 and portal.count("crm.timeline.comment.add") == 1


async def test_a_crash_mid_write_is_finished_by_the_next_press_without_a_duplicate(
    runtime: Runtime, portal: EmulatedPortal, store: PortalStore, clock: FixedClock
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    actions = runtime.assistant.actions
    assert actions is not None
    reply = await runtime.assistant.ask("планерка в понедельник в 8:30", actor=actor)
    assert reply.frame.intent == "calendar.create"
    # The process claimed the write, the event reached Bitrix24, then the process died
    # before recording it: replay exactly that with the same key.
    claim = await runtime.state.claim_write(
        reply.confirm_key, actor.id, 120.0, now=clock.now().timestamp()
    )
    assert claim.outcome == "claimed" and claim.payload is not None
    plan = Plan.from_json(claim.payload)
    await actions._write(plan, reply.confirm_key, check_first=False)
    assert portal.count("calendar.event.add") == 1
    busy = await actions.confirm(reply.confirm_key, actor)
    assert busy.kind == "busy"  # the dead attempt's lease still runs
    clock.advance(timedelta(minutes=3))
    finished = await actions.confirm(reply.confirm_key, actor)
    assert finished.kind == "written" and finished.written is not None
    assert finished.written.recovered
    assert portal.count("calendar.event.add") == 1  # found by its key, not written again
    events = await rest(
        portal,
        "calendar.event.get",
        {"type": "company_calendar", "ownerId": 0, "from": "2026-11-30", "to": "2026-12-01"},
    )
    mine = [e for e in events if f"[audiobot:{reply.confirm_key}]" in e["DESCRIPTION"]]
    assert len(mine) == 1 and mine[0]["NAME"] == "Планёрка"
    assert mine[0]["DATE_FROM"].startswith("30.11.2026 08:30")


async def test_unlinked_people_and_write_disabled_never_get_a_preview(
    runtime: Runtime, portal: EmulatedPortal
) -> None:
    stranger = Actor("tg:99", "кто-то", None, may_write=False)
    reply = await runtime.assistant.ask("поставь задачу ершовой проверить подвал", actor=stranger)
    assert reply.confirm_key == "" and "вошли по номеру" in reply.text
    assert "confirm" not in reply.to_json()
    actions = runtime.assistant.actions
    assert actions is not None
    actions.enabled = False
    reply = await runtime.assistant.ask(
        "поставь задачу ершовой проверить подвал", actor=employee_actor(runtime)
    )
    assert reply.confirm_key == "" and "WRITE_ENABLED" in reply.text
    assert await runtime.state.journal_entries() == []


async def test_unknown_and_ambiguous_houses_are_asked_never_guessed(runtime: Runtime) -> None:
    actor = Actor("chat", "администратор")
    unknown = await runtime.assistant.ask("на майской 999 сломан домофон", actor=actor)
    assert unknown.confirm_key == "" and "не найден" in unknown.text
    both = await runtime.assistant.ask("на ленина 5 сломан домофон", actor=actor)
    assert both.confirm_key == ""
    assert "«Ленина 5»" in both.text and "«Кондрово, Ленина 5»" in both.text


async def test_a_single_guess_is_previewed_for_checking(runtime: Runtime) -> None:
    actor = Actor("chat", "администратор")
    reply = await runtime.assistant.ask("пролет 117 убрано", actor=actor)
    assert reply.confirm_key, reply.text
    assert "• Дом: Пролетарская 117 (сделка №" in reply.text
    assert reply.text.endswith("⚠️ Проверьте адрес: распознано неточно.")


async def test_a_task_for_me_is_mine_and_one_for_nobody_is_the_brigade_heads(
    runtime: Runtime, store: PortalStore
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    assert actor.employee is not None
    mine = await runtime.assistant.ask(
        "поставь мне задачу проверить подвал на майской 8 до пятницы", actor=actor
    )
    assert mine.write is not None and mine.write.plan is not None
    assert mine.write.plan.responsible_id == int(actor.employee.id)
    nobodys = await runtime.assistant.ask(
        "на майской 8 жильцы жалуются на грязь, создай задачу", actor=actor
    )
    assert nobodys.write is not None and nobodys.write.plan is not None
    plan = nobodys.write.plan
    assert plan.intent == "house.problem"
    assert str(plan.responsible_id) == brigade_head_of(store, deal_id_of(store, HOUSE))


async def test_a_missing_write_scope_is_named_and_nothing_is_written(
    runtime: Runtime, portal: EmulatedPortal
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    actions = runtime.assistant.actions
    assert actions is not None
    reply = await runtime.assistant.ask("планерка в понедельник в 8:30", actor=actor)
    portal.options.scopes = portal.options.scopes - {"calendar"}
    outcome = await actions.confirm(reply.confirm_key, actor)
    assert outcome.kind == "failed"
    assert "нет права «calendar»" in outcome.text and "ничего не записано" in outcome.text
    [entry, *_] = await runtime.state.journal_entries()
    assert entry.kind == "write.failed" and "insufficient_scope" in entry.payload["error"]
    assert not [e for e in portal.store.events if reply.confirm_key in str(e)]


async def test_what_was_written_is_in_the_next_answers(
    runtime: Runtime, portal: EmulatedPortal
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    actions = runtime.assistant.actions
    assert actions is not None
    before = await runtime.assistant.ask("задачи по дому майская 8")
    reply = await runtime.assistant.ask("на майской 8 сломан домофон", actor=actor)
    outcome = await actions.confirm(reply.confirm_key, actor)
    assert outcome.written is not None
    await actions.drain()  # the refresh the write started
    after = await runtime.assistant.ask("задачи по дому майская 8")
    assert "сломан домофон" not in before.text.lower()
    assert "Майская 8: сломан домофон" in after.text


async def test_photos_uploaded_before_a_failed_task_are_said_and_not_uploaded_twice(
    runtime: Runtime, portal: EmulatedPortal, store: PortalStore, tmp_path: Path
) -> None:
    await runtime.assistant.warm_up()
    actor = employee_actor(runtime)
    actions = runtime.assistant.actions
    assert actions is not None
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    reply = await runtime.assistant.ask("на майской 8 сломан домофон", actor=actor, photos=[photo])
    portal.inject_fault(Fault.QUERY_LIMIT, method="tasks.task.add", count=50)
    failed = await actions.confirm(reply.confirm_key, actor)
    assert failed.kind == "failed"
    assert "1 фото уже на Диске Bitrix24, задача не создана" in failed.text
    assert "ничего не записано" not in failed.text
    portal.clear_faults()
    done = await actions.confirm(reply.confirm_key, actor)
    assert done.kind == "written"
    [task] = await tasks_of_deal(portal, deal_id_of(store, HOUSE))
    assert len(task["ufTaskWebdavFiles"]) == 1
    assert portal.count("disk.folder.uploadfile") == 1  # found by its name on the retry
    assert not photo.exists()  # the local copy is gone once written
