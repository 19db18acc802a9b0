"""`bitrix.writes` against the emulated portal over real HTTP: exactly-once writes.

Each write is read back with plain httpx (not through the code under test); lost answers are
made with the portal's ``DROP_AFTER`` fault (the write is applied, the connection drops), and
the client must then find exactly one object by its marker — never write a second one.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bitrix.client import BitrixClient, is_read_method
from bitrix.clock import FixedClock
from bitrix.company import CompanySnapshot, MappingOptions
from bitrix.demo import build_demo_store
from bitrix.errors import (
    BitrixConnectionDropped,
    BitrixError,
    BitrixInsufficientScope,
    BitrixNotFound,
    BitrixOperationTimeLimit,
    BitrixQueryLimitExceeded,
    BitrixRequestError,
    BitrixServerError,
    BitrixTimeoutError,
    BitrixWriteUnconfirmed,
)
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, Fault, PortalOptions, sample_store
from bitrix.probe import probe_portal
from bitrix.writes import (
    BitrixWriter,
    CommentDraft,
    Draft,
    EventDraft,
    FileDraft,
    TaskDraft,
    checking_message,
    marker,
    may_have_written,
)

from .conftest import NOON, TODAY

MSK = ZoneInfo("Europe/Moscow")
PHOTO = b"\xff\xd8\xff\xe0fake-jpeg"
NOON_AT = datetime.fromtimestamp(NOON, MSK)
FRIDAY = datetime(2026, 3, 20, 18, 0, tzinfo=MSK)
TASK = TaskDraft("Проверить подвал", responsible_id=8, description="Течёт труба", deal_id=2)
COMMENT = CommentDraft(2, "Уборка выполнена", files=(("после.jpg", PHOTO),))
EVENT = EventDraft(
    "Планёрка",
    begins=datetime(2026, 3, 23, 8, 30, tzinfo=MSK),
    ends=datetime(2026, 3, 23, 9, 0, tzinfo=MSK),
    section_id=3,
)
FILE = FileDraft(1, "подвал.jpg", PHOTO)


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def portal() -> AsyncIterator[EmulatedPortal]:
    options = PortalOptions(clock=lambda: NOON)
    options.scopes |= {"disk"}
    async with EmulatedPortal(sample_store(TODAY), options) as running:
        yield running


@pytest.fixture
async def client(portal: EmulatedPortal) -> AsyncIterator[BitrixClient]:
    async with BitrixClient(
        portal.webhook_url, timeout=5.0, sleep=_no_sleep, rand=lambda: 0.5
    ) as bx:
        yield bx


@pytest.fixture
def writer(client: BitrixClient) -> BitrixWriter:
    return BitrixWriter(client)


async def raw(portal: EmulatedPortal, method: str, payload: dict[str, Any]) -> Any:
    """A plain httpx call, independent of the client under test."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(portal.webhook_url + method, json=payload)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def objects(portal: EmulatedPortal, draft: Draft) -> int:
    """How many objects of the draft's kind the portal holds."""
    store = portal.store
    if isinstance(draft, TaskDraft):
        return len(store.tasks)
    if isinstance(draft, CommentDraft):
        return len(store.timeline_comments)
    if isinstance(draft, EventDraft):
        return len(store.events)
    return len(store.disk_files)


WRITE_METHOD = {
    TaskDraft: "tasks.task.add",
    CommentDraft: "crm.timeline.comment.add",
    EventDraft: "calendar.event.add",
    FileDraft: "disk.folder.uploadfile",
}


# --- writes land and read back ---------------------------------------------------------------


async def test_task_is_written_read_back_and_loaded(
    portal: EmulatedPortal, client: BitrixClient, writer: BitrixWriter
) -> None:
    draft = TaskDraft(
        "Проверить подвал", responsible_id=8, description="Течёт труба", deadline=FRIDAY, deal_id=2
    )
    written = await writer.add_task(draft, key="journal-0001")
    assert (written.kind, written.recovered) == ("task", False)
    assert written.record["ufCrmTask"] == ["D_2"]
    listed = await raw(
        portal,
        "tasks.task.list",
        {"filter": {"ID": written.id}, "select": ["ID", "TITLE", "DESCRIPTION", "DEADLINE"]},
    )
    (task,) = listed["tasks"]
    assert task["title"] == "Проверить подвал"
    assert task["description"] == "Течёт труба\n\n[audiobot:journal-0001]"
    assert task["deadline"] == "2026-03-20T18:00:00+03:00"
    # The bot's next snapshot: a fresh load sees the task.
    loader = CompanyLoader(client, tz=MSK, options=MappingOptions(), clock=FixedClock(NOON_AT))
    loaded = await loader.fetch()
    assert str(written.id) in {str(t["id"]) for t in loaded.tasks}


async def test_comment_with_photo_is_written_and_read_back(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    written = await writer.add_timeline_comment(COMMENT, key="journal-0002")
    got = await raw(portal, "crm.timeline.comment.get", {"id": written.id})
    assert got["COMMENT"] == "Уборка выполнена\n\n" + marker("journal-0002")
    (photo,) = got["FILES"].values()
    assert photo["name"] == "после.jpg" and photo["size"] == len(PHOTO)


async def test_company_event_is_written_read_back_and_loaded(
    portal: EmulatedPortal, client: BitrixClient, writer: BitrixWriter
) -> None:
    written = await writer.add_calendar_event(EVENT, key="journal-0003")
    events = await raw(
        portal,
        "calendar.event.get",
        {"type": "company_calendar", "ownerId": 0, "from": "2026-03-23", "to": "2026-03-23"},
    )
    assert [(e["ID"], e["NAME"], e["DATE_FROM"]) for e in events] == [
        (str(written.id), "Планёрка", "23.03.2026 08:30:00")
    ]
    loader = CompanyLoader(client, tz=MSK, options=MappingOptions(), clock=FixedClock(NOON_AT))
    loaded = await loader.fetch()
    assert str(written.id) in {e["ID"] for e in loaded.events}


async def test_uploaded_file_attaches_to_a_task(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    file = await writer.upload_file(FILE, key="journal-0004")
    assert file.record["NAME"] == "подвал.audiobot-journal-0004.jpg"
    assert portal.store.disk_content[file.id] == PHOTO
    task = await writer.add_task(
        TaskDraft("Фото подвала", responsible_id=8, file_ids=(file.id,)), key="journal-0005"
    )
    assert portal.store.tasks[task.id]["ufTaskWebdavFiles"] == [f"n{file.id}"]


# --- refusals: nothing written, said so ------------------------------------------------------


async def test_validation_error_says_nothing_was_written(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    before = len(portal.store.tasks)
    with pytest.raises(BitrixRequestError) as info:
        await writer.add_task(TaskDraft("x", responsible_id=10), key="journal-0006")  # fired
    assert info.value.user_message == (
        'Не удалось создать задачу: Bitrix24 отклонил данные (User specified in the "Assignee" '
        "field not found); в Bitrix24 ничего не записано."
    )
    assert len(portal.store.tasks) == before
    assert portal.count("tasks.task.add") == 1 and portal.count("batch") == 0  # no lookup


async def test_unknown_deal_says_nothing_was_written(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    with pytest.raises(BitrixNotFound) as info:
        await writer.add_timeline_comment(CommentDraft(999, "x"), key="journal-0007")
    assert info.value.user_message.startswith("Не удалось добавить комментарий: Bitrix24 не нашёл")
    assert info.value.user_message.endswith("в Bitrix24 ничего не записано.")
    assert portal.store.timeline_comments == {}


@pytest.mark.parametrize(
    ("draft", "scope"),
    [(TASK, "task"), (COMMENT, "crm"), (EVENT, "calendar"), (FILE, "disk")],
)
async def test_missing_scope_says_which_and_nothing_was_written(
    portal: EmulatedPortal, writer: BitrixWriter, draft: Draft, scope: str
) -> None:
    portal.options.scopes.discard(scope)
    before = objects(portal, draft)
    with pytest.raises(BitrixInsufficientScope) as info:
        await writer.write(draft, key="journal-0008")
    assert info.value.status == 401 and info.value.scope == scope
    assert f"нет права «{scope}»" in info.value.user_message
    assert info.value.user_message.endswith("в Bitrix24 ничего не записано.")
    assert objects(portal, draft) == before


async def test_wrong_token_is_a_refusal(portal: EmulatedPortal) -> None:
    url = portal.webhook_url.replace(portal.options.token, "wrong0token0")
    async with BitrixClient(url, sleep=_no_sleep) as bad:
        with pytest.raises(BitrixError) as info:
            await BitrixWriter(bad).add_task(TASK, key="journal-0009")
    assert info.value.status == 401
    assert "ничего не записано" in info.value.user_message


# --- 503 / 429: the call did not run --------------------------------------------------------


async def test_query_limit_503_on_a_write_never_duplicates(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    # QUERY_LIMIT_EXCEEDED is answered before the method runs (reference §5, §6.1): the
    # client's one retry is safe, and exactly one task results.
    before = len(portal.store.tasks)
    portal.inject_fault(Fault.QUERY_LIMIT, method="tasks.task.add")
    written = await writer.add_task(TASK, key="journal-0010")
    assert portal.count("tasks.task.add") == 2
    assert len(portal.store.tasks) == before + 1 and written.id in portal.store.tasks


async def test_query_limit_without_retries_says_nothing_was_written(
    portal: EmulatedPortal,
) -> None:
    before = len(portal.store.tasks)
    portal.inject_fault(Fault.QUERY_LIMIT, method="tasks.task.add")
    async with BitrixClient(portal.webhook_url, max_retries=0, sleep=_no_sleep) as bx:
        with pytest.raises(BitrixQueryLimitExceeded) as info:
            await BitrixWriter(bx).add_task(TASK, key="journal-0011")
    assert info.value.status == 503
    assert info.value.user_message == (
        "Не удалось создать задачу: Bitrix24 перегружен запросами, попробуйте через минуту; "
        "в Bitrix24 ничего не записано."
    )
    assert len(portal.store.tasks) == before and portal.count("batch") == 0


async def test_operation_time_limit_429_says_nothing_was_written(
    portal: EmulatedPortal,
) -> None:
    portal.options.operating_budget = 1.0
    portal.options.operating_costs = {"tasks.task.add": 2.0}
    async with BitrixClient(portal.webhook_url, max_operating_wait=0, sleep=_no_sleep) as bx:
        writer = BitrixWriter(bx)
        await writer.add_task(TASK, key="journal-0012")
        before = len(portal.store.tasks)
        with pytest.raises(BitrixOperationTimeLimit) as info:
            await writer.add_task(TASK, key="journal-0013")
    assert info.value.status == 429 and "ничего не записано" in info.value.user_message
    assert len(portal.store.tasks) == before


# --- lost answers: found by the marker, never written twice ---------------------------------


@pytest.mark.parametrize("draft", [TASK, COMMENT, EVENT, FILE], ids=lambda d: type(d).__name__)
async def test_dropped_answer_is_found_exactly_once(
    portal: EmulatedPortal, writer: BitrixWriter, draft: Draft
) -> None:
    method = WRITE_METHOD[type(draft)]
    before = objects(portal, draft)
    portal.inject_fault(Fault.DROP_AFTER, method=method)
    written = await writer.write(draft, key="journal-0020")
    assert written.recovered is True
    assert portal.count(method) == 1  # never repeated
    assert objects(portal, draft) == before + 1
    again = await writer.find_written(draft, "journal-0020")
    assert again is not None and again.id == written.id
    # A repeat with check_first (a double press, a restart) returns the same object.
    repeat = await writer.write(draft, key="journal-0020", check_first=True)
    assert repeat.id == written.id and objects(portal, draft) == before + 1
    assert portal.count(method) == 1


async def test_a_second_upload_of_the_same_key_is_recovered_not_duplicated(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    first = await writer.upload_file(FILE, key="journal-0021")
    second = await writer.upload_file(FILE, key="journal-0021")  # no check_first
    assert (second.id, second.recovered) == (first.id, True)
    assert len(portal.store.disk_files) == 1


async def test_500_on_a_write_is_not_retried_and_reported_unconfirmed(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    before = len(portal.store.tasks)
    portal.inject_fault(Fault.ERROR_500, method="tasks.task.add")
    with pytest.raises(BitrixWriteUnconfirmed) as info:
        await writer.add_task(TASK, key="journal-0022")
    exc = info.value
    assert (exc.key, exc.write_kind, exc.method) == ("journal-0022", "task", "tasks.task.add")
    assert exc.user_message == (
        "Ответ Bitrix24 не дошёл, и задача там пока не найдена. Повторите позже — перед "
        "повтором бот проверит ещё раз, дубля не будет."
    )
    assert portal.count("tasks.task.add") == 1 and len(portal.store.tasks) == before


async def test_failed_lookup_is_reported_unconfirmed(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    portal.inject_fault(Fault.DROP_AFTER, method="crm.timeline.comment.add")
    portal.inject_fault(Fault.ERROR_500, method="batch", count=20)
    with pytest.raises(BitrixWriteUnconfirmed) as info:
        await writer.add_timeline_comment(COMMENT, key="journal-0023")
    assert "проверить, добавлен ли комментарий, не удалось" in info.value.user_message
    assert info.value.cause is not None and "INTERNAL_SERVER_ERROR" in info.value.cause
    portal.clear_faults()
    assert len(portal.store.timeline_comments) == 1
    # Later, the same key finds it instead of writing again.
    found = await writer.add_timeline_comment(COMMENT, key="journal-0023", check_first=True)
    assert found.recovered and len(portal.store.timeline_comments) == 1


async def test_check_first_that_cannot_look_says_nothing_was_written_now(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    portal.inject_fault(Fault.ERROR_500, method="batch", count=20)
    with pytest.raises(BitrixServerError) as info:
        await writer.add_task(TASK, key="journal-0025", check_first=True)
    assert info.value.user_message.startswith("Не удалось проверить, создана ли задача раньше")
    assert info.value.user_message.endswith("Сейчас ничего не записано; повторите позже.")
    assert portal.count("tasks.task.add") == 0


async def test_lookup_can_be_narrowed_to_recent_tasks(
    portal: EmulatedPortal, writer: BitrixWriter
) -> None:
    written = await writer.add_task(TASK, key="journal-0026")
    recent = await writer.find_written(TASK, "journal-0026", since=NOON_AT - timedelta(minutes=5))
    assert recent is not None and recent.id == written.id
    later = await writer.find_written(TASK, "journal-0026", since=NOON_AT + timedelta(minutes=5))
    assert later is None


async def test_a_hung_write_that_lands_late_is_found_before_writing_again(
    portal: EmulatedPortal,
) -> None:
    before = len(portal.store.tasks)
    portal.inject_fault(Fault.HANG, method="tasks.task.add")
    async with BitrixClient(portal.webhook_url, timeout=0.3, sleep=_no_sleep) as bx:
        writer = BitrixWriter(bx)
        with pytest.raises(BitrixWriteUnconfirmed) as info:
            await writer.add_task(TASK, key="journal-0024")
        assert "пока не найдена" in info.value.user_message
        portal.release_hung()  # the held request now runs: the task lands after the timeout
        for _ in range(100):
            if len(portal.store.tasks) > before:
                break
            await asyncio.sleep(0.01)
        written = await writer.add_task(TASK, key="journal-0024", check_first=True)
    assert written.recovered and len(portal.store.tasks) == before + 1
    assert portal.count("tasks.task.add") == 1


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (BitrixTimeoutError("t", method="tasks.task.add"), True),
        (BitrixConnectionDropped("d", method="tasks.task.add"), True),
        (BitrixServerError("s", method="tasks.task.add", status=500), True),
        (BitrixQueryLimitExceeded("q", method="tasks.task.add", status=503), False),
        (BitrixOperationTimeLimit("o", method="tasks.task.add", status=429), False),
        (BitrixRequestError("r", method="tasks.task.add", status=400), False),
        (BitrixInsufficientScope("s", method="tasks.task.add", status=401), False),
    ],
)
def test_may_have_written(error: BitrixError, expected: bool) -> None:
    assert may_have_written(error) is expected


def test_keys_and_messages() -> None:
    assert marker("abc-123_X") == "[audiobot:abc-123_X]"
    for bad in ("short", "has space!", "x" * 65, "ключ-123"):
        with pytest.raises(ValueError):
            marker(bad)
    assert checking_message("task") == "Ответ Bitrix24 не дошёл — проверяю, создана ли задача."
    assert checking_message("comment").endswith("добавлен ли комментарий.")


def test_naive_times_are_refused() -> None:
    naive = TaskDraft("x", responsible_id=8, deadline=datetime(2026, 3, 20, 18, 0))  # noqa: DTZ001
    writer = BitrixWriter(BitrixClient("https://example.bitrix24.ru/rest/1/abc/"))
    with pytest.raises(ValueError, match="time-zone aware"):
        writer._request(naive, "journal-0030")


def test_file_content_is_sent_as_base64_pairs() -> None:
    writer = BitrixWriter(BitrixClient("https://example.bitrix24.ru/rest/1/abc/"))
    method, params = writer._request(COMMENT, "journal-0031")
    assert method == "crm.timeline.comment.add"
    assert params["fields"]["FILES"] == [["после.jpg", base64.b64encode(PHOTO).decode()]]


async def test_probe_names_the_missing_write_scopes(
    portal: EmulatedPortal, client: BitrixClient
) -> None:
    portal.options.scopes = {"crm", "user", "department", "task", "calendar"}
    result = await probe_portal(client)
    assert result.ok and result.missing_for_writes == ("disk",)
    portal.options.scopes.discard("task")
    result = await probe_portal(client)
    assert result.missing == ("task",) and result.missing_for_writes == ("task", "disk")


def test_lookups_are_reads_and_writes_are_not() -> None:
    for method in ("tasks.task.list", "crm.timeline.comment.list", "calendar.event.get",
                   "disk.folder.getchildren", "disk.file.get"):  # fmt: skip
        assert is_read_method(method), method
    for method in WRITE_METHOD.values():
        assert not is_read_method(method), method


async def test_writes_into_the_demo_company_show_in_the_next_snapshot() -> None:
    store = build_demo_store(TODAY)
    house = next(d for d in store.deals.values() if d["TITLE"] and d["CATEGORY_ID"] != "0")
    head = next(u for u in store.users.values() if u.get("ACTIVE") and u["ID"] != "1")
    clock = FixedClock(NOON_AT)
    async with (
        EmulatedPortal(store, PortalOptions(clock=lambda: NOON)) as portal,
        BitrixClient(portal.webhook_url, sleep=_no_sleep) as bx,
    ):
        writer = BitrixWriter(bx)
        draft = TaskDraft("Сломан домофон", int(head["ID"]), deal_id=int(house["ID"]))
        portal.inject_fault(Fault.DROP_AFTER, method="tasks.task.add")
        task = await writer.add_task(draft, key="journal-0040")
        begins = NOON_AT + timedelta(days=1)
        event = await writer.add_calendar_event(
            EventDraft("Планёрка", begins, begins + timedelta(hours=1), section_id=7),
            key="journal-0041",
        )
        options = MappingOptions()
        raw_data = await CompanyLoader(bx, tz=MSK, options=options, clock=clock).fetch()
    snapshot = CompanySnapshot(raw_data, tz=MSK, options=options, clock=clock)
    (loaded,) = [t for t in snapshot.tasks if t.id == str(task.id)]
    assert task.recovered and loaded.title == "Сломан домофон"
    assert loaded.house_ids == (house["ID"],) and loaded.responsible_id == head["ID"]
    tomorrow = (NOON_AT + timedelta(days=1)).date()
    assert "Планёрка" in {e.name for e in snapshot.events_between(tomorrow, tomorrow)}
    assert str(event.id) in {e["ID"] for e in raw_data.events}
