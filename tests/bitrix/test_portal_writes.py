"""The emulated portal's write methods over real HTTP, read back with plain httpx.

Held to Bitrix24's REST documentation of ``tasks.task.add``, ``crm.timeline.comment.add``,
``calendar.event.add`` and ``disk.folder.uploadfile``, and to its HTTP statuses.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from bitrix.portal import EmulatedPortal, Fault

from .conftest import Rest

PHOTO = b"\xff\xd8\xff\xe0fake-jpeg"
PHOTO_B64 = base64.b64encode(PHOTO).decode()
NO_ASSIGNEE = 'User specified in the "Assignee" field not found<br>'
DEAL_TYPE = {"ENTITY_TYPE": "deal"}
UPLOAD = {"data": {"NAME": "a"}, "fileContent": ["a", "YQ=="]}


async def result_of(rest: Rest, method: str, payload: Any = None) -> Any:
    response = await rest(method, payload)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def error_of(rest: Rest, method: str, payload: Any) -> tuple[int, dict[str, Any]]:
    response = await rest(method, payload)
    body = response.json()
    assert "time" not in body  # error bodies carry no time section (reference §2.2)
    return response.status_code, body


# ------------------------------------------------------------------------------- tasks


async def test_task_add_binds_a_deal_and_a_drive_file_and_lists_back(
    rest: Rest, portal: EmulatedPortal
) -> None:
    portal.options.scopes.add("disk")
    upload = await result_of(
        rest,
        "disk.folder.uploadfile",
        {"id": 1, "data": {"NAME": "подвал.jpg"}, "fileContent": ["подвал.jpg", PHOTO_B64]},
    )
    created = await result_of(
        rest,
        "tasks.task.add",
        {
            "fields": {
                "TITLE": "Проверить подвал",
                "RESPONSIBLE_ID": 8,
                "DEADLINE": "2026-03-20T18:00:00+03:00",
                "DESCRIPTION": "Течёт труба\n\n[audiobot:k1]",
                "UF_CRM_TASK": ["D_2"],
                "UF_TASK_WEBDAV_FILES": [f"n{upload['ID']}"],
            }
        },
    )
    task = created["task"]
    assert task["createdBy"] == "1"  # the webhook's user
    assert task["responsible"]["name"] == "Павел Иванов"
    assert task["ufCrmTask"] == ["D_2"]
    listed = await result_of(
        rest,
        "tasks.task.list",
        {
            "filter": {"ID": task["id"]},
            "select": ["ID", "DESCRIPTION", "UF_CRM_TASK", "UF_TASK_WEBDAV_FILES"],
        },
    )
    assert listed["tasks"] == [
        {
            "id": task["id"],
            "description": "Течёт труба\n\n[audiobot:k1]",
            "ufCrmTask": ["D_2"],
            "ufTaskWebdavFiles": [f"n{upload['ID']}"],
            "ufMailMessage": False,
        }
    ]


async def test_task_user_fields_come_only_when_one_is_selected(rest: Rest) -> None:
    # "not returned by default — put one in SELECT and all three return" (tasks/fields.md)
    plain = await result_of(rest, "tasks.task.list", {"filter": {"ID": 1}})
    assert not {"ufCrmTask", "ufTaskWebdavFiles", "ufMailMessage"} & set(plain["tasks"][0])
    starred = await result_of(rest, "tasks.task.list", {"filter": {"ID": 1}, "select": ["*"]})
    assert "ufCrmTask" not in starred["tasks"][0] and "title" in starred["tasks"][0]
    one = await result_of(
        rest, "tasks.task.list", {"filter": {"ID": 1}, "select": ["ID", "UF_TASK_WEBDAV_FILES"]}
    )
    assert one["tasks"] == [
        {"id": "1", "ufCrmTask": ["D_1"], "ufTaskWebdavFiles": False, "ufMailMessage": False}
    ]


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"RESPONSIBLE_ID": 8}, "Task title not specified<br>"),
        ({"TITLE": "  ", "RESPONSIBLE_ID": 8}, "Task title not specified<br>"),
        ({"TITLE": "x"}, "Assignee not specified<br>"),
        ({"TITLE": "x", "RESPONSIBLE_ID": 999}, NO_ASSIGNEE),
        # user 10 is fired (ACTIVE=false)
        ({"TITLE": "x", "RESPONSIBLE_ID": 10}, NO_ASSIGNEE),
        (
            {"TITLE": "x", "RESPONSIBLE_ID": 8, "DEADLINE": "к пятнице"},
            'Incorrect value in the "Deadline" field<br>',
        ),
        (
            {"TITLE": "x", "RESPONSIBLE_ID": 8, "UF_CRM_TASK": ["D_999"]},
            'CRM item "D_999" specified in the "UF_CRM_TASK" field not found<br>',
        ),
        (
            {"TITLE": "x", "RESPONSIBLE_ID": 8, "UF_CRM_TASK": ["house 2"]},
            'Invalid CRM binding "house 2" in the "UF_CRM_TASK" field<br>',
        ),
        (
            {"TITLE": "x", "RESPONSIBLE_ID": 8, "UF_TASK_WEBDAV_FILES": ["n404"]},
            'File "n404" specified in the "UF_TASK_WEBDAV_FILES" field not found<br>',
        ),
    ],
)  # fmt: skip
async def test_task_add_validation(
    rest: Rest, portal: EmulatedPortal, fields: dict[str, Any], description: str
) -> None:
    before = dict(portal.store.tasks)
    status, body = await error_of(rest, "tasks.task.add", {"fields": fields})
    assert (status, body) == (400, {"error": "ERROR_CORE", "error_description": description})
    assert portal.store.tasks == before


# ------------------------------------------------------------------------------- timeline


async def test_timeline_comment_add_with_files_reads_back(
    rest: Rest, portal: EmulatedPortal
) -> None:
    comment_id = await result_of(
        rest,
        "crm.timeline.comment.add",
        {
            "fields": {
                "ENTITY_ID": 2,
                "ENTITY_TYPE": "deal",
                "COMMENT": "Уборка выполнена",
                "FILES": [["до.jpg", PHOTO_B64], ["после.jpg", PHOTO_B64]],
            }
        },
    )
    assert isinstance(comment_id, int)
    got = await result_of(rest, "crm.timeline.comment.get", {"id": comment_id})
    assert got["ENTITY_ID"] == "2" and got["ENTITY_TYPE"] == "deal"
    assert got["AUTHOR_ID"] == "1" and got["COMMENT"] == "Уборка выполнена"
    assert [f["name"] for f in got["FILES"].values()] == ["до.jpg", "после.jpg"]
    assert {f["size"] for f in got["FILES"].values()} == {len(PHOTO)}
    assert {f["type"] for f in got["FILES"].values()} == {"image"}
    stored = [portal.store.disk_content[int(k)] for k in got["FILES"]]
    assert stored == [PHOTO, PHOTO]
    body = (
        await rest(
            "crm.timeline.comment.list",
            {"filter": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal"}, "select": ["ID", "COMMENT"]},
        )
    ).json()
    assert body["result"] == [{"ID": str(comment_id), "COMMENT": "Уборка выполнена"}]
    assert body["total"] == 1
    other = await result_of(
        rest, "crm.timeline.comment.list", {"filter": {"ENTITY_ID": 3, "ENTITY_TYPE": "deal"}}
    )
    assert other == []


@pytest.mark.parametrize(
    ("payload", "description"),
    [
        ({}, "The parameter 'fields' must be array."),
        # since crm 23.100.0 only lower-case `fields` is accepted (crm-timeline-comment-add.md)
        ({"FIELDS": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal", "COMMENT": "x"}},
         "The parameter 'fields' must be array."),
        ({"fields": {**DEAL_TYPE, "COMMENT": "x"}}, "ENTITY_ID is not defined or invalid."),
        ({"fields": {"ENTITY_ID": 2, "COMMENT": "x"}}, "ENTITY_TYPE is not defined or invalid."),
        ({"fields": {"ENTITY_ID": 999, "ENTITY_TYPE": "deal", "COMMENT": "x"}}, "Not found"),
        ({"fields": {"ENTITY_ID": 2, **DEAL_TYPE, "COMMENT": " "}}, "Empty comment message."),
    ],
)  # fmt: skip
async def test_timeline_comment_add_validation(
    rest: Rest, portal: EmulatedPortal, payload: dict[str, Any], description: str
) -> None:
    status, body = await error_of(rest, "crm.timeline.comment.add", payload)
    assert (status, body) == (400, {"error": "", "error_description": description})
    assert portal.store.timeline_comments == {}


async def test_timeline_comment_with_bad_file_stores_nothing(
    rest: Rest, portal: EmulatedPortal
) -> None:
    files = [["ok.jpg", PHOTO_B64], ["bad.jpg", "not base64!"]]
    status, body = await error_of(
        rest,
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal", "COMMENT": "x", "FILES": files}},
    )
    assert status == 400 and body["error"] == "ERROR_ARGUMENT"
    assert portal.store.timeline_comments == {} and portal.store.disk_files == {}


async def test_timeline_comment_list_needs_the_entity(rest: Rest) -> None:
    status, body = await error_of(rest, "crm.timeline.comment.list", {"filter": {"ENTITY_ID": 2}})
    assert (status, body["error"]) == (400, "")


# ------------------------------------------------------------------------------- calendar


async def test_calendar_event_add_then_get(rest: Rest, portal: EmulatedPortal) -> None:
    event_id = await result_of(
        rest,
        "calendar.event.add",
        {
            "type": "company_calendar",
            "ownerId": 0,
            "section": 3,
            "name": "Планёрка",
            "from": "2026-03-23T08:30:00+03:00",
            "to": "2026-03-23T09:00:00+03:00",
            "description": "Итоги недели\n\n[audiobot:k2]",
            "attendees": [5, 8],
        },
    )
    assert event_id == 6
    events = await result_of(
        rest,
        "calendar.event.get",
        {"type": "company_calendar", "ownerId": 0, "from": "2026-03-23", "to": "2026-03-23"},
    )
    assert [e["ID"] for e in events] == ["6"]
    event = events[0]
    assert event["NAME"] == "Планёрка" and event["SECTION_ID"] == "3"
    assert (
        event["DATE_FROM"] == "23.03.2026 08:30:00" and event["DATE_TO"] == "23.03.2026 09:00:00"
    )
    assert event["DATE_FROM_TS_UTC"] == "1774243800" and event["DT_SKIP_TIME"] == "N"
    assert event["DESCRIPTION"].endswith("[audiobot:k2]")
    assert event["IS_MEETING"] is True
    assert [a["id"] for a in event["ATTENDEE_LIST"]] == [1, 5, 8]


async def test_calendar_event_add_all_day_with_timestamps(rest: Rest) -> None:
    event_id = await result_of(
        rest,
        "calendar.event.add",
        {"type": "user", "section": 1, "name": "Отпуск", "from": "2026-03-25", "to": "2026-03-25",
         "skip_time": "Y"},
    )  # fmt: skip
    events = await result_of(
        rest, "calendar.event.get", {"type": "user", "ownerId": 1, "from": "2026-03-25"}
    )
    event = next(e for e in events if e["ID"] == str(event_id))
    assert event["DT_SKIP_TIME"] == "Y" and event["DATE_FROM"] == "25.03.2026"
    by_ts = await result_of(
        rest,
        "calendar.event.add",
        {"type": "user", "ownerId": 1, "section": 1, "name": "Звонок",
         "from_ts": 1774243800, "to_ts": 1774245600},
    )  # fmt: skip
    assert by_ts == event_id + 1


BASE_EVENT = {
    "type": "company_calendar",
    "ownerId": 0,
    "section": 3,
    "name": "Планёрка",
    "from": "2026-03-23T08:30:00",
    "to": "2026-03-23T09:00:00",
}


@pytest.mark.parametrize("missing", ["type", "ownerId", "from", "to", "section", "name"])
async def test_calendar_event_add_required(
    rest: Rest, portal: EmulatedPortal, missing: str
) -> None:
    payload = {k: v for k, v in BASE_EVENT.items() if k != missing}
    count = len(portal.store.events)
    status, body = await error_of(rest, "calendar.event.add", payload)
    assert status == 400
    assert body == {
        "error": "",
        "error_description": (
            f'The required parameter "{missing}" for the method "calendar.event.add" is not set'
        ),
    }
    assert len(portal.store.events) == count


@pytest.mark.parametrize(
    "change",
    [
        {"type": "holiday"},
        {"from": "завтра"},
        {"to": "2026-03-23T08:00:00"},  # before `from`
        {"attendees": [10]},  # fired
        {"attendees": [999]},
    ],
)
async def test_calendar_event_add_refuses_invalid(
    rest: Rest, portal: EmulatedPortal, change: dict[str, Any]
) -> None:
    count = len(portal.store.events)
    status, body = await error_of(rest, "calendar.event.add", {**BASE_EVENT, **change})
    assert (status, body["error"]) == (400, "")
    assert len(portal.store.events) == count


# ------------------------------------------------------------------------------- disk


async def test_upload_to_a_folder_and_to_a_storage(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.scopes.add("disk")
    first = await result_of(
        rest,
        "disk.folder.uploadfile",
        {"id": 1, "data": {"NAME": "a.jpg"}, "fileContent": ["a.jpg", PHOTO_B64]},
    )
    assert first["NAME"] == "a.jpg" and first["SIZE"] == str(len(PHOTO))
    assert first["TYPE"] == "file" and first["PARENT_ID"] == "1" and first["CREATED_BY"] == "1"
    assert await result_of(rest, "disk.file.get", {"id": first["ID"]}) == first
    twin = await rest(
        "disk.storage.uploadfile",
        {"id": 1, "data": {"NAME": "a.jpg"}, "fileContent": ["a.jpg", PHOTO_B64]},
    )
    assert twin.status_code == 400 and twin.json()["error"] == "DISK_OBJ_22000"
    unique = await result_of(
        rest,
        "disk.storage.uploadfile",
        {"id": 1, "data": {"NAME": "a.jpg"}, "fileContent": ["a.jpg", PHOTO_B64],
         "generateUniqueName": True},
    )  # fmt: skip
    assert unique["NAME"] == "a (1).jpg"
    named = await result_of(
        rest, "disk.folder.getchildren", {"id": 1, "filter": {"NAME": "a (1).jpg"}}
    )
    assert [c["ID"] for c in named] == [unique["ID"]]


@pytest.mark.parametrize(
    ("method", "payload", "error"),
    [
        ("disk.folder.uploadfile", {"id": 77, **UPLOAD}, "ERROR_NOT_FOUND"),
        ("disk.storage.uploadfile", {"id": 77, **UPLOAD}, "ERROR_NOT_FOUND"),
        ("disk.folder.uploadfile", {"id": 1, "fileContent": ["a", "YQ=="]}, "ERROR_ARGUMENT"),
        ("disk.folder.uploadfile", {"id": 1, "data": {"NAME": "a"}}, "ERROR_ARGUMENT"),
        ("disk.folder.uploadfile", {"id": 1, "data": {"NAME": "a"}, "fileContent": ["a", "@@"]},
         "ERROR_ARGUMENT"),
    ],
)  # fmt: skip
async def test_upload_validation(
    rest: Rest, portal: EmulatedPortal, method: str, payload: dict[str, Any], error: str
) -> None:
    portal.options.scopes.add("disk")
    status, body = await error_of(rest, method, payload)
    assert (status, body["error"]) == (400, error)
    assert portal.store.disk_files == {}


# ------------------------------------------------------------------------------- auth, faults


@pytest.mark.parametrize(
    ("method", "scope", "payload"),
    [
        ("tasks.task.add", "task", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 8}}),
        ("crm.timeline.comment.add", "crm",
         {"fields": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal", "COMMENT": "x"}}),
        ("calendar.event.add", "calendar", BASE_EVENT),
        ("disk.folder.uploadfile", "disk",
         {"id": 1, "data": {"NAME": "a"}, "fileContent": ["a", "YQ=="]}),
    ],
)  # fmt: skip
async def test_writes_need_their_scope(
    rest: Rest, portal: EmulatedPortal, method: str, scope: str, payload: dict[str, Any]
) -> None:
    portal.options.scopes = {"user", "crm", "task", "calendar", "disk"} - {scope}
    status, body = await error_of(rest, method, payload)
    assert (status, body) == (
        401,
        {
            "error": "insufficient_scope",
            "error_description": (
                "The request requires higher privileges than provided by the webhook token"
            ),
        },
    )
    assert not portal.store.timeline_comments and len(portal.store.tasks) == 6


async def test_a_write_with_a_wrong_token_is_401(
    portal: EmulatedPortal, http: httpx.AsyncClient
) -> None:
    url = portal.webhook_url.replace(portal.options.token, "wrong0token")
    response = await http.post(
        url + "tasks.task.add", json={"fields": {"TITLE": "x", "RESPONSIBLE_ID": 8}}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "INVALID_CREDENTIALS"
    assert len(portal.store.tasks) == 6


async def test_query_limit_fault_does_not_run_the_write(
    rest: Rest, portal: EmulatedPortal
) -> None:
    portal.inject_fault(Fault.QUERY_LIMIT, method="tasks.task.add")
    response = await rest("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 8}})
    assert response.status_code == 503
    assert response.json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }
    assert len(portal.store.tasks) == 6


async def test_drop_after_applies_the_write_and_loses_the_answer(
    rest: Rest, portal: EmulatedPortal
) -> None:
    portal.inject_fault(Fault.DROP_AFTER, method="crm.timeline.comment.add")
    with pytest.raises(httpx.RemoteProtocolError):
        await rest(
            "crm.timeline.comment.add",
            {"fields": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal", "COMMENT": "x"}},
        )
    assert [c["COMMENT"] for c in portal.store.timeline_comments.values()] == ["x"]
    dropped = portal.requests[-1]
    assert (dropped.fault, dropped.status) == (Fault.DROP_AFTER, None)
