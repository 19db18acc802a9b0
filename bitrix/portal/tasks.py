"""Tasks and the calendar: `tasks.task.list`, `tasks.task.add`, `calendar.event.get`.

Tasks take UPPER_CASE field names in ``filter``/``order``/``select`` and answer camelCase items
inside a wrapper (``result.tasks``, ``result.task``), mostly with string values (reference
`bitrix24.md` §3, §7.11). The default order is ``ID desc``; an unknown order key is a 400 with
``"error": "0"``. Filter ``STATUS`` means the meta status ``subStatus`` (``-1`` overdue),
``REAL_STATUS`` the stored ``status``.

`calendar.event.get` needs ``type`` and (except for a user's own calendar) ``ownerId``, keeps
events overlapping ``from``..``to`` (default: a month back to three months ahead) and answers a
plain array without ``total`` (§7.12).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bitrix.portal.calls import CallContext, MethodOutput, Params
from bitrix.portal.errors import MethodError
from bitrix.portal.query import (
    Condition,
    Record,
    as_php_array,
    condition_matches,
    iso,
    order_records,
    orm_page,
    param,
    parse_datetime,
    php_intval,
    php_string,
    split_operator,
    sql_like,
)

# UPPER_CASE input names whose camelCase output name is not the mechanical conversion.
_TASK_NAMES = {
    "REAL_STATUS": "status",
    "STATUS": "subStatus",
    "UF_CRM_TASK": "ufCrmTask",
    "ACCOMPLICE": "accomplices",
    "ACCOMPLICES": "accomplices",
    "AUDITOR": "auditors",
    "AUDITORS": "auditors",
    "TAG": "tags",
    "CREATED_BY_LAST_NAME": "createdByLastName",
    "RESPONSIBLE_LAST_NAME": "responsibleLastName",
    "STATUS_COMPLETE": "statusComplete",
}
#: Keys `order` accepts (tasks.task.list docs); anything else is "Invalid sorting key".
_ORDER_KEYS = frozenset(
    {
        "ID", "TITLE", "TIME_SPENT_IN_LOGS", "DATE_START", "CREATED_DATE", "CHANGED_DATE",
        "CLOSED_DATE", "ACTIVITY_DATE", "START_DATE_PLAN", "END_DATE_PLAN", "DEADLINE",
        "REAL_STATUS", "STATUS_COMPLETE", "PRIORITY", "MARK", "CREATED_BY_LAST_NAME",
        "RESPONSIBLE_LAST_NAME", "GROUP_ID", "TIME_ESTIMATE", "ALLOW_CHANGE_DEADLINE",
        "ALLOW_TIME_TRACKING", "MATCH_WORK_TIME", "FAVORITE", "SORTING", "IS_PINNED",
        "IS_PINNED_IN_GROUP",
    }
)  # fmt: skip
_DONE_OR_DEFERRED = ("4", "5", "6")


def camel_name(name: str) -> str:
    """Map a task field name to its output key: ``RESPONSIBLE_ID`` → ``responsibleId``.

    camelCase names (``subStatus``) pass through unchanged.
    """
    if name in _TASK_NAMES:
        return _TASK_NAMES[name]
    if not name.isupper():
        return name
    first, *rest = name.lower().split("_")
    return first + "".join(part.capitalize() for part in rest)


def _sub_status(ctx: CallContext, task: Mapping[str, Any]) -> str:
    """The meta status: ``-1`` when the deadline has passed on an open task, else ``status``."""
    status = php_string(task.get("status"))
    deadline = parse_datetime(task.get("deadline"), ctx.tz)
    if deadline is not None and deadline < ctx.moment and status not in _DONE_OR_DEFERRED:
        return "-1"
    return php_string(task.get("subStatus", status))


def _member(ctx: CallContext, user_id: Any) -> dict[str, Any]:
    user = ctx.store.users.get(php_intval(user_id), {})
    name = " ".join(p for p in (user.get("NAME"), user.get("LAST_NAME")) if p)
    return {
        "id": php_string(user_id),
        "name": name,
        "link": f"/company/personal/user/{php_intval(user_id)}/",
        "icon": "/bitrix/images/tasks/default_avatar.png",
        "workPosition": user.get("WORK_POSITION", ""),
    }


def _task_view(ctx: CallContext, task: Mapping[str, Any]) -> Record:
    """A task with the computed keys filters and orders may name."""
    creator = ctx.store.users.get(php_intval(task.get("createdBy")), {})
    responsible = ctx.store.users.get(php_intval(task.get("responsibleId")), {})
    return {
        **task,
        "subStatus": _sub_status(ctx, task),
        "createdByLastName": creator.get("LAST_NAME"),
        "responsibleLastName": responsible.get("LAST_NAME"),
        "statusComplete": "2" if php_string(task.get("status")) == "5" else "1",
    }


def _task_filter(raw: Mapping[str, Any]) -> list[Condition]:
    conditions = []
    for key, value in raw.items():
        if str(key).startswith("::"):
            continue  # ::SUBFILTER-* groups (favourites, ...) are not emulated.
        op, field = split_operator(str(key))
        conditions.append(Condition(camel_name(field.upper()), op, value))
    return conditions


def _task_matches(
    ctx: CallContext, view: Mapping[str, Any], conditions: Iterable[Condition]
) -> bool:
    for condition in conditions:
        value = view.get(condition.field)
        if condition.field == "title" and condition.op == "=":
            # TITLE matches as a LIKE pattern: `%` and `_` are wildcards.
            if not sql_like(php_string(condition.value), php_string(value)):
                return False
        elif not condition_matches(value, condition, ctx.tz):
            return False
    return True


def task_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`tasks.task.list`: ``{"tasks": [...]}`` with ``total``/``next`` at the top level."""
    order_raw = as_php_array(param(params, "order")) or {}
    order: list[tuple[str, bool]] = []
    for key, direction in order_raw.items():
        upper = key.upper()
        if upper not in _ORDER_KEYS:
            raise MethodError("0", "Invalid sorting key (internal error)", 400)
        order.append((camel_name(upper), php_string(direction).strip().lower() == "desc"))
    conditions = _task_filter(as_php_array(param(params, "filter")) or {})
    views = [_task_view(ctx, t) for t in ctx.store.tasks.values()]
    matched = [v for v in views if _task_matches(ctx, v, conditions)]
    ordered = order_records(matched, order or [("id", True)], ctx.tz)
    page = orm_page(ordered, ctx.start)

    select = [php_string(s) for s in (as_php_array(param(params, "select")) or {}).values()]
    wanted: set[str] | None = None
    if select and "*" not in select:
        wanted = {"id"}
        for name in select:
            key = camel_name(name)
            wanted.add(key)
            if name == "STATUS":
                wanted.add("status")
    tasks = []
    for view in page.items:
        stored = ctx.store.tasks[php_intval(view["id"])]
        item = {k: v for k, v in stored.items() if wanted is None or k in wanted}
        if wanted is None or "subStatus" in wanted:
            item["subStatus"] = view["subStatus"]
        if "responsibleId" in item:
            item["responsible"] = _member(ctx, item["responsibleId"])
        if "createdBy" in item:
            item["creator"] = _member(ctx, item["createdBy"])
        tasks.append(item)
    return MethodOutput({"tasks": tasks}, page.total, page.next)


def _core_error(message: str) -> MethodError:
    return MethodError("ERROR_CORE", f"{message}<br>", 400)


def task_add(ctx: CallContext, params: Params) -> MethodOutput:
    """`tasks.task.add`: validates TITLE and RESPONSIBLE_ID, stores the task, ``result.task``."""
    fields = as_php_array(param(params, "fields"))
    if not fields:
        raise MethodError("100", "Could not find value for parameter {fields} (internal error)")
    upper = {k.upper(): v for k, v in fields.items()}
    title = php_string(upper.get("TITLE")).strip()
    if not title:
        raise _core_error("Task title not specified")
    responsible_id = php_intval(upper.get("RESPONSIBLE_ID"))
    if responsible_id <= 0:
        raise _core_error("Assignee not specified")
    if responsible_id not in ctx.store.users:
        raise _core_error('User specified in the "Assignee" field not found')
    status = php_string(upper.get("STATUS", "2"))
    if status not in ("1", "2", "3", "4", "5", "6", "7"):
        raise _core_error("Invalid status")
    deadline = None
    if upper.get("DEADLINE"):
        moment = parse_datetime(upper["DEADLINE"], ctx.tz)
        if moment is None:
            raise _core_error('Incorrect value in the "Deadline" field')
        deadline = iso(moment.astimezone(ctx.tz))
    links = upper.get("UF_CRM_TASK") or []
    links_list = list(links.values()) if isinstance(links, dict) else links
    if not isinstance(links_list, list):
        links_list = [links_list]
    now = iso(ctx.moment)
    task_id = max(ctx.store.tasks, default=0) + 1
    record: Record = {
        "id": str(task_id),
        "title": title,
        "description": php_string(upper.get("DESCRIPTION")),
        "status": status,
        "priority": php_string(upper.get("PRIORITY", "1")),
        "deadline": deadline,
        "createdDate": now,
        "closedDate": None,
        "changedDate": now,
        "responsibleId": str(responsible_id),
        "createdBy": str(php_intval(upper.get("CREATED_BY")) or ctx.options.user_id),
        "groupId": str(php_intval(upper.get("GROUP_ID"))),
        "ufCrmTask": [php_string(link) for link in links_list],
    }
    for key, out in (("AUDITORS", "auditors"), ("ACCOMPLICES", "accomplices")):
        members = as_php_array(upper.get(key))
        if members:
            record[out] = [str(php_intval(m)) for m in members.values()]
    ctx.store.tasks[task_id] = record
    task = {
        **record,
        "subStatus": _sub_status(ctx, record),
        "auditors": record.get("auditors", []),
        "accomplices": record.get("accomplices", []),
        "group": [],
        "creator": _member(ctx, record["createdBy"]),
        "responsible": _member(ctx, record["responsibleId"]),
        "auditorsData": {m: _member(ctx, m) for m in record.get("auditors", [])},
        "accomplicesData": {m: _member(ctx, m) for m in record.get("accomplices", [])},
    }
    return MethodOutput({"task": task})


# --------------------------------------------------------------------------- calendar


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _missing(name: str) -> MethodError:
    return MethodError(
        "", f'The required parameter "{name}" for the method "calendar.event.get" is not set'
    )


def _is_date_only(value: Any) -> bool:
    text = php_string(value).strip()
    return len(text) == 10 and ("-" in text or "." in text)


def event_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`calendar.event.get`: events of one calendar overlapping a window, a plain array."""
    cal_type = php_string(param(params, "type")).strip()
    if not cal_type:
        raise _missing("type")
    owner_raw = param(params, "ownerId")
    if owner_raw is not None:
        owner_id = php_intval(owner_raw)
    elif cal_type == "user":
        owner_id = ctx.options.user_id
    else:
        raise _missing("ownerId")
    now = ctx.moment
    start = parse_datetime(param(params, "from"), ctx.tz) or _add_months(now, -1)
    to_raw = param(params, "to")
    end = parse_datetime(to_raw, ctx.tz) or _add_months(now, 3)
    if to_raw is not None and _is_date_only(to_raw):
        end += timedelta(days=1, seconds=-1)  # A date-only `to` includes that whole day.
    sections = as_php_array(param(params, "section"))
    wanted_sections = {php_intval(s) for s in sections.values()} if sections else None
    result = []
    for event in ctx.store.events:
        if php_string(event.get("CAL_TYPE")) != cal_type:
            continue
        if php_intval(event.get("OWNER_ID")) != owner_id:
            continue
        if (
            wanted_sections is not None
            and php_intval(event.get("SECTION_ID")) not in wanted_sections
        ):
            continue
        begins = php_intval(event.get("DATE_FROM_TS_UTC"))
        ends = php_intval(event.get("DATE_TO_TS_UTC")) or begins
        if begins <= end.timestamp() and ends >= start.timestamp():
            result.append(dict(event))
    result.sort(key=lambda e: (php_intval(e.get("DATE_FROM_TS_UTC")), php_intval(e.get("ID"))))
    return MethodOutput(result)
