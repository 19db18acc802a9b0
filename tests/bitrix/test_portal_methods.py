"""Method shapes and semantics held to what a real Bitrix24 portal answers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bitrix.portal import EmulatedPortal
from bitrix.portal.fixtures import (
    CLEAN_SWEEP_ALL,
    UF_ADDRESS,
    UF_APARTMENTS,
    UF_CLEAN_DATES,
    UF_CLEAN_TYPE,
)

from .conftest import Rest


async def result_of(rest: Rest, method: str, payload: Any = None, **kwargs: Any) -> Any:
    response = await rest(method, payload, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def deal_ids(rest: Rest, filter_: dict[str, Any], **extra: Any) -> list[int]:
    rows = await result_of(rest, "crm.deal.list", {"filter": filter_, "select": ["ID"], **extra})
    return [int(r["ID"]) for r in rows]


# ------------------------------------------------------------------------------- crm.deal.*


async def test_deal_select_variants(rest: Rest) -> None:
    default = (await result_of(rest, "crm.deal.list", {"filter": {"ID": 1}}))[0]
    assert default["TITLE"] == "Пролетарская 112/1" and default[UF_APARTMENTS] == "120"
    standard = (await result_of(rest, "crm.deal.list", {"filter": {"ID": 1}, "select": ["*"]}))[0]
    assert "TITLE" in standard and not any(k.startswith("UF_") for k in standard)
    custom = (await result_of(rest, "crm.deal.list", {"filter": {"ID": 1}, "select": ["UF_*"]}))[0]
    assert set(custom) == {"ID"} | {k for k in default if k.startswith("UF_")}
    named = (
        await result_of(
            rest, "crm.deal.list", {"filter": {"ID": 1}, "select": ["TITLE", UF_CLEAN_TYPE]}
        )
    )[0]
    assert named == {"ID": "1", "TITLE": "Пролетарская 112/1", UF_CLEAN_TYPE: "2101"}


async def test_deal_values_are_strings_and_multiple_fields_lists(rest: Rest) -> None:
    deal = await result_of(rest, "crm.deal.get", {"id": 2})
    assert deal["ID"] == "2" and deal["CATEGORY_ID"] == "34" and deal["COMPANY_ID"] == "2"
    assert deal["LEAD_ID"] is None
    assert deal[UF_CLEAN_DATES] == [
        "2026-03-05T00:00:00+03:00",
        "2026-03-12T00:00:00+03:00",
        "2026-03-19T00:00:00+03:00",
        "2026-03-26T00:00:00+03:00",
    ]
    assert (await result_of(rest, "crm.deal.get", {"ID": 6}))[UF_APARTMENTS] is None


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({">=ID": 10}, [10, 11, 12]),
        ({">ID": "9"}, [10, 11, 12]),  # Numeric, not string, comparison: "10" > "9".
        ({"<ID": 3}, [1, 2]),
        ({"<=ID": "2"}, [1, 2]),
        ({"@ID": [3, 1, 7]}, [1, 3, 7]),
        ({"ID": [3, 1]}, [1, 3]),
        ({"!@STAGE_ID": ["C34:EXECUTING", "NEW", "PREPARATION", "WON"]}, [7, 8, 9]),
        ({"%TITLE": "ПРОЛЕТ"}, [1]),
        ({"=CATEGORY_ID": 0}, [10, 11, 12]),
        ({"CATEGORY_ID": "34", "!=COMPANY_ID": "0"}, [1, 2, 3, 5, 7, 9]),
        ({"CATEGORY_ID": 34, "!COMPANY_ID": 0}, [1, 2, 3, 5, 7, 9]),
        ({"STAGE_SEMANTIC_ID": "F"}, [8, 9]),
        ({">=" + UF_APARTMENTS: 100}, [1, 5]),
        ({UF_CLEAN_TYPE: CLEAN_SWEEP_ALL}, [3]),
        ({UF_CLEAN_DATES: "2026-03-10T00:00:00+03:00"}, [3]),  # Any value of a multiple field.
        ({"%STAGE_ID": "EXEC"}, []),  # LIKE does not work on crm_status fields.
        ({"UNKNOWN_FIELD": "x", "ID": 4}, [4]),  # Unknown fields are ignored.
    ],
)
async def test_deal_filter_operators(
    rest: Rest, filter_: dict[str, Any], expected: list[int]
) -> None:
    assert await deal_ids(rest, filter_) == expected


async def test_deal_filter_on_dates(rest: Rest, portal: EmulatedPortal) -> None:
    portal.store.deals[5]["DATE_CREATE"] = "2026-03-01T09:00:00+03:00"
    assert await deal_ids(rest, {">=DATE_CREATE": "2026-02-01"}) == [5]
    assert await deal_ids(rest, {">=DATE_CREATE": "01.03.2026 09:00:00"}) == [5]
    assert 5 not in await deal_ids(rest, {"<DATE_CREATE": "2026-03-01T06:00:00+00:00"})


async def test_deal_order_on_any_field(rest: Rest) -> None:
    by_title = await deal_ids(rest, {"CATEGORY_ID": 34}, order={"TITLE": "DESC"})
    assert by_title == [5, 7, 1, 2, 3, 9, 6, 8, 4]  # Чижевского … Билибина.
    by_flats = await deal_ids(
        rest, {"CATEGORY_ID": 34}, order={UF_APARTMENTS: "ASC", "ID": "DESC"}
    )
    # NULL and "" first, then numerically (36 < 45 < 120, not as strings).
    assert by_flats == [6, 4, 8, 7, 3, 9, 2, 1, 5]


@pytest.mark.parametrize(
    ("payload", "description"),
    [
        ({"id": 999}, "Not found"),
        ({"id": "abc"}, "ID is not defined or invalid."),
        (None, "ID is not defined or invalid."),
    ],
)
async def test_deal_get_errors_are_classic_400(rest: Rest, payload: Any, description: str) -> None:
    response = await rest("crm.deal.get", payload)
    assert response.status_code == 400
    assert response.json() == {"error": "", "error_description": description}


async def test_deal_list_rejects_non_array_filter(rest: Rest) -> None:
    response = await rest("crm.deal.list", {"filter": "ID=1"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "",
        "error_description": "Parameter 'filter' must be array.",
    }


async def test_deal_fields_descriptors(rest: Rest) -> None:
    fields = await result_of(rest, "crm.deal.fields")
    assert fields["TITLE"]["title"] == "Название"
    assert fields["ID"]["isReadOnly"] is True and fields["ID"]["isDynamic"] is False
    assert fields["STAGE_ID"]["statusType"] == "DEAL_STAGE"
    address = fields[UF_ADDRESS]
    assert address["title"] == UF_ADDRESS
    assert (address["listLabel"], address["formLabel"], address["filterLabel"]) == ("Адрес",) * 3
    assert address["isDynamic"] is True and address["isMultiple"] is False
    assert (
        fields[UF_CLEAN_DATES]["isMultiple"] is True and fields[UF_CLEAN_DATES]["type"] == "date"
    )
    kind = fields[UF_CLEAN_TYPE]
    assert kind["type"] == "enumeration"
    assert kind["items"][1] == {
        "ID": "2102",
        "VALUE": "Подметание лестничных площадок и маршей всех этажей",
    }


async def test_deal_fields_follow_the_portal_language(rest: Rest, portal: EmulatedPortal) -> None:
    portal.store.language = "en"
    fields = await result_of(rest, "crm.deal.fields")
    assert fields["TITLE"]["title"] == "Name"
    assert fields[UF_ADDRESS]["listLabel"] == "Address"


async def test_userfield_labels_only_with_lang(rest: Rest) -> None:
    plain = await rest("crm.deal.userfield.list")
    body = plain.json()
    assert body["total"] == 6
    first = body["result"][0]
    assert first["FIELD_NAME"] == UF_ADDRESS and first["SORT"] == "100"
    assert not {"EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL"} & set(first)
    russian = await result_of(rest, "crm.deal.userfield.list", {"filter": {"LANG": "ru"}})
    assert russian[0]["EDIT_FORM_LABEL"] == "Адрес"
    assert russian[0]["LIST_COLUMN_LABEL"] == "Адрес"
    english = await result_of(rest, "crm.deal.userfield.list", params={"filter[LANG]": "en"})
    assert english[0]["LIST_FILTER_LABEL"] == "Address"
    enumeration = await result_of(
        rest, "crm.deal.userfield.list", {"filter": {"USER_TYPE_ID": "enumeration", "LANG": "ru"}}
    )
    assert [o["ID"] for o in enumeration[0]["LIST"]] == ["2101", "2102", "2103"]


# --------------------------------------------------------------------------- funnels, companies


async def test_category_list_shape(rest: Rest) -> None:
    body = (await rest("crm.category.list", {"entityTypeId": 2})).json()
    assert body["total"] == 2
    default, houses = body["result"]["categories"]
    assert default == {
        "id": 0,
        "name": "Продажи",
        "sort": 100,
        "entityTypeId": 2,
        "isDefault": "Y",
    }
    assert houses["id"] == 34 and houses["originId"] == "" and houses["isDefault"] == "N"
    missing = await rest("crm.category.list")
    assert missing.status_code == 400


async def test_status_list_stages(rest: Rest) -> None:
    body = (await rest("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_34"}})).json()
    assert body["total"] == 5
    stages = body["result"]
    assert [s["STATUS_ID"] for s in stages] == [
        "C34:NEW",
        "C34:EXECUTING",
        "C34:WON",
        "C34:LOSE",
        "C34:APOLOGY",
    ]
    assert all(isinstance(s["SORT"], str) for s in stages)
    assert [s["SEMANTICS"] for s in stages] == [None, None, "S", "F", "F"]
    assert stages[1]["NAME"] == "Обслуживается" and stages[1]["CATEGORY_ID"] == "34"
    funnel0 = await result_of(rest, "crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}})
    assert funnel0[0]["STATUS_ID"] == "NEW" and funnel0[0]["CATEGORY_ID"] is None


async def test_company_multiple_fields_need_explicit_select(rest: Rest) -> None:
    star = (await result_of(rest, "crm.company.list", {"select": ["*"]}))[0]
    assert "PHONE" not in star and star["TITLE"] == "ООО УК «Жилкомсервис»"
    named = (
        await result_of(
            rest, "crm.company.list", {"select": ["TITLE", "PHONE"], "filter": {"ID": 2}}
        )
    )[0]
    assert named["PHONE"][0]["VALUE"] == "+7 4842 57-30-44"
    full = await result_of(rest, "crm.company.get", {"id": 3})
    assert full["PHONE"][0]["TYPE_ID"] == "PHONE"


# --------------------------------------------------------------------------- users, departments


async def user_ids(rest: Rest, payload: Any = None, **kwargs: Any) -> list[int]:
    return [int(u["ID"]) for u in await result_of(rest, "user.get", payload, **kwargs)]


async def test_user_get_output_types(rest: Rest) -> None:
    users = await result_of(rest, "user.get")
    assert len(users) == 11
    assert all(isinstance(u["ACTIVE"], bool) for u in users)
    assert all(
        isinstance(u["UF_DEPARTMENT"], list) and isinstance(u["UF_DEPARTMENT"][0], int)
        for u in users
    )
    dispatcher = next(u for u in users if u["ID"] == "3")
    assert "PERSONAL_MOBILE" not in dispatcher  # NULL fields are omitted, not nulled.


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"FILTER": {"ACTIVE": True}}, [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]),
        ({"FILTER": {"ACTIVE": False}}, [10]),
        ({"ACTIVE": "false"}, [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]),  # PHP: "false" is truthy.
        ({"ACTIVE": "N"}, [10]),
        ({"ACTIVE": "Y", "UF_DEPARTMENT": 3}, [4, 5, 6]),
        ({"filter": {"UF_DEPARTMENT": [4, "5"]}}, [7, 8, 9, 11]),
        ({"FILTER": {"LAST_NAME": "иванова"}}, [2]),
        ({"FILTER": {"%LAST_NAME": "Иванов"}}, [2, 8]),
        ({"FILTER": {">ID": 8}}, [9, 10, 11]),
        ({"NAME_SEARCH": "Пав Иван"}, [8]),
        ({"WORK_POSITION": "Бригадир", "SORT": "ID", "ORDER": "DESC"}, [8, 5]),
        ({"WORK_POSITION": "Бригадир", "SORT": "ID"}, [5, 8]),  # SORT without ORDER is ignored.
    ],
)
async def test_user_get_filters(rest: Rest, payload: dict[str, Any], expected: list[int]) -> None:
    assert await user_ids(rest, payload) == expected


async def test_user_get_by_query_string(rest: Rest) -> None:
    assert await user_ids(
        rest, http_method="GET", params={"FILTER[UF_DEPARTMENT]": "4", "ACTIVE": "true"}
    ) == [7, 8, 9]


async def test_user_current_and_profile(rest: Rest) -> None:
    me = await result_of(rest, "user.current")
    assert me["ID"] == "1" and me["ACTIVE"] is True and me["UF_DEPARTMENT"] == [1]
    profile = await result_of(rest, "profile")
    assert profile == {
        "ID": "1",
        "ADMIN": True,
        "NAME": "Сергей",
        "LAST_NAME": "Петров",
        "PERSONAL_GENDER": "M",
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": 10800,
    }


async def test_department_shapes_and_tree_order(rest: Rest) -> None:
    body = (await rest("department.get")).json()
    assert body["total"] == 5
    departments = body["result"]
    assert [d["NAME"] for d in departments] == [
        "ООО «Чистый подъезд»",
        "Офис",
        "Бригада 1",
        "Бригада 2",
        "Бригада 3",
    ]
    root = departments[0]
    assert "PARENT" not in root and root["UF_HEAD"] == "1"
    assert all(isinstance(d["SORT"], int) for d in departments)
    assert departments[2]["PARENT"] == "1" and departments[2]["UF_HEAD"] == "5"
    assert "UF_HEAD" not in departments[4]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"ID": 3}, ["3"]),
        ({"ID": ["3", 4]}, ["3", "4"]),
        ({"id": 3}, ["1", "2", "3", "4", "5"]),  # Lower-case filter keys are ignored.
        ({"FILTER": {"PARENT": 1}}, ["2", "3", "4", "5"]),
        ({"filter": {"PARENT": 1}}, ["1", "2", "3", "4", "5"]),  # So is a lower-case wrapper.
        ({"UF_HEAD": "8"}, ["4"]),
        ({"NAME": "бригада 2"}, ["4"]),
        ({"sort": "NAME", "order": "DESC"}, ["2", "1", "5", "4", "3"]),
        ({"sort": "ID", "order": "desc", "PARENT": "1"}, ["5", "4", "3", "2"]),
        ({"SORT": "NAME"}, []),  # Upper-case SORT is also a filter: SORT = intval("NAME") = 0.
    ],
)
async def test_department_get_filters(
    rest: Rest, payload: dict[str, Any], expected: list[str]
) -> None:
    assert [d["ID"] for d in await result_of(rest, "department.get", payload)] == expected


# ------------------------------------------------------------------------------- tasks, calendar


async def test_task_list_maps_upper_case_input_to_camel_case_output(rest: Rest) -> None:
    tasks = (
        await result_of(
            rest,
            "tasks.task.list",
            {
                "select": ["ID", "TITLE", "RESPONSIBLE_ID", "DEADLINE", "UF_CRM_TASK"],
                "filter": {"RESPONSIBLE_ID": 5},
            },
        )
    )["tasks"]
    assert len(tasks) == 1
    task = tasks[0]
    assert task["id"] == "1" and task["responsibleId"] == "5"
    assert task["deadline"] == "2026-03-15T18:00:00+03:00"
    assert task["ufCrmTask"] == ["D_1"]
    assert task["responsible"]["name"] == "Иван Кузнецов"
    assert not any(k.isupper() for k in task)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"!REAL_STATUS": 5}, ["6", "5", "4", "3", "1"]),
        ({"REAL_STATUS": [2, 3]}, ["6", "5", "4", "3", "1"]),
        ({"STATUS": -1}, ["1"]),  # Meta status: overdue.
        ({"<DEADLINE": "2026-03-16"}, ["2", "1"]),
        ({">=DEADLINE": "2026-03-16", "<DEADLINE": "2026-03-17"}, ["3"]),
        ({"UF_CRM_TASK": "D_3"}, ["5"]),
        ({"TITLE": "%Московская%"}, ["5"]),
        ({"CREATED_BY": "2", "RESPONSIBLE_ID": 3}, ["6", "2"]),
    ],
)
async def test_task_list_filters(rest: Rest, filter_: dict[str, Any], expected: list[str]) -> None:
    result = await result_of(rest, "tasks.task.list", {"filter": filter_, "select": ["ID"]})
    assert [t["id"] for t in result["tasks"]] == expected


async def test_task_list_order_and_invalid_order_key(rest: Rest) -> None:
    result = await result_of(
        rest, "tasks.task.list", {"order": {"DEADLINE": "asc"}, "select": ["ID"]}
    )
    assert [t["id"] for t in result["tasks"]] == ["6", "2", "1", "3", "4", "5"]  # NULL first.
    bad = await rest("tasks.task.list", {"order": {"NOPE": "asc"}})
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "0",
        "error_description": "Invalid sorting key (internal error)",
    }


async def test_task_add_validates_and_stores(rest: Rest) -> None:
    created = await result_of(
        rest,
        "tasks.task.add",
        {
            "fields": {
                "TITLE": "Проверить подъезд",
                "RESPONSIBLE_ID": 8,
                "DEADLINE": "2026-03-20T18:00:00",
                "UF_CRM_TASK": ["D_2"],
            }
        },
    )
    task = created["task"]
    assert task["id"] == "7" and task["status"] == "2" and task["responsibleId"] == "8"
    assert task["deadline"] == "2026-03-20T18:00:00+03:00"
    assert task["createdBy"] == "1" and task["auditorsData"] == []
    listed = await result_of(
        rest, "tasks.task.list", {"filter": {"ID": 7}, "select": ["ID", "TITLE"]}
    )
    assert listed["tasks"] == [{"id": "7", "title": "Проверить подъезд"}]


@pytest.mark.parametrize(
    ("payload", "error", "description"),
    [
        ({}, "100", "Could not find value for parameter {fields} (internal error)"),
        ({"fields": {"RESPONSIBLE_ID": 8}}, "ERROR_CORE", "Task title not specified<br>"),
        ({"fields": {"TITLE": "x"}}, "ERROR_CORE", "Assignee not specified<br>"),
        (
            {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 999}},
            "ERROR_CORE",
            'User specified in the "Assignee" field not found<br>',
        ),
    ],
)
async def test_task_add_errors(
    rest: Rest, payload: dict[str, Any], error: str, description: str
) -> None:
    response = await rest("tasks.task.add", payload)
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


async def test_calendar_requires_type(rest: Rest) -> None:
    response = await rest("calendar.event.get", {"ownerId": 1})
    assert response.status_code == 400
    assert response.json() == {
        "error": "",
        "error_description": (
            'The required parameter "type" for the method "calendar.event.get" is not set'
        ),
    }
    no_owner = await rest("calendar.event.get", {"type": "group"})
    assert no_owner.status_code == 400


async def test_calendar_events_in_a_window(rest: Rest) -> None:
    body = (await rest("calendar.event.get", {"type": "user", "ownerId": 1})).json()
    assert set(body) == {"result", "time"}
    assert [e["ID"] for e in body["result"]] == ["5", "1", "2"]
    event = body["result"][1]
    assert event["DATE_FROM"] == "16.03.2026 09:00:00"
    assert event["DATE_FROM_TS_UTC"] == "1773640800" and isinstance(event["DT_LENGTH"], int)
    window = await result_of(
        rest,
        "calendar.event.get",
        {"type": "user", "ownerId": 1, "from": "2026-03-16", "to": "2026-03-16"},
    )
    assert [e["ID"] for e in window] == ["1"]
    company = await result_of(
        rest, "calendar.event.get", {"type": "company_calendar", "ownerId": ""}
    )
    assert [e["NAME"] for e in company] == ["Санитарный день"]


# ------------------------------------------------------------------------------- system


async def test_scope_app_info_server_time(rest: Rest) -> None:
    assert await result_of(rest, "scope") == [
        "calendar",
        "crm",
        "department",
        "disk",
        "task",
        "user",
    ]
    full = await result_of(rest, "scope", {"full": True})
    assert {"crm", "user_brief", "imbot"} <= set(full)
    assert await result_of(rest, "app.info") == {
        "SCOPE": ["calendar", "crm", "department", "disk", "task", "user"],
        "LICENSE": "ru_project",
    }
    assert await result_of(rest, "server.time") == "2026-03-16T12:00:00+03:00"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00", await result_of(rest, "server.time")
    )


# ------------------------------------------------------------------------------- user.update


async def test_user_update_fires_an_employee_as_bitrix24_does(
    rest: Rest, portal: EmulatedPortal
) -> None:
    [user] = await result_of(rest, "user.get", {"ID": 2})
    assert user["ACTIVE"] is True
    # DOCS user.update example: {"ID": 6, "ACTIVE": "N"} fires an employee; result is true.
    assert await result_of(rest, "user.update", {"ID": 2, "ACTIVE": "N"}) is True
    [fired] = await result_of(rest, "user.get", {"ID": 2})
    assert fired["ACTIVE"] is False
    assert await result_of(rest, "user.get", {"FILTER": {"ACTIVE": True, "ID": 2}}) == []
    assert await result_of(rest, "user.update", {"id": 2, "active": True, "WORK_PHONE": "1"})
    [back] = await result_of(rest, "user.get", {"ID": 2})
    assert back["ACTIVE"] is True and back["WORK_PHONE"] == "1"


async def test_user_update_is_for_administrators_with_the_user_scope(
    rest: Rest, portal: EmulatedPortal
) -> None:
    missing = await rest("user.update", {"ACTIVE": "N"})
    assert missing.status_code == 400
    unknown = await rest("user.update", {"ID": 99999, "ACTIVE": "N"})
    assert unknown.status_code == 400
    portal.options.admin = False
    denied = await rest("user.update", {"ID": 2, "ACTIVE": "N"})
    assert (denied.status_code, denied.json()["error"]) == (403, "ACCESS_DENIED")
    portal.options.admin = True
    portal.options.scopes = {"user_basic", "crm"}
    scoped = await rest("user.update", {"ID": 2, "ACTIVE": "N"})
    assert (scoped.status_code, scoped.json()["error"]) == (401, "insufficient_scope")
