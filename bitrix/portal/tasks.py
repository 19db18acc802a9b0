"""Tasks and the calendar: `tasks.task.list`, `tasks.task.add`, `calendar.event.get`/`.add`.

Tasks take UPPER_CASE field names in ``filter``/``order``/``select`` and answer camelCase items
inside a wrapper (``result.tasks``, ``result.task``), mostly with string values, as on a
real portal. The default order is ``ID desc``; an unknown order key is a 400 with
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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    php_truthy,
    split_operator,
    sql_like,
)

# UPPER_CASE input names whose camelCase output name is not the mechanical conversion.
_TASK_NAMES = {
    "REAL_STATUS": "status",
    "STATUS": "subStatus",
    "UF_CRM_TASK": "ufCrmTask",
    "UF_TASK_WEBDAV_FILES": "ufTaskWebdavFiles",
    "UF_MAIL_MESSAGE": "ufMailMessage",
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
#: The task user fields fields.md treats as one group (see `task_list`).
_TASK_UFS = frozenset({"UF_CRM_TASK", "UF_TASK_WEBDAV_FILES", "UF_MAIL_MESSAGE"})
_TASK_UF_KEYS = ("ufCrmTask", "ufTaskWebdavFiles", "ufMailMessage")


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
    # UF_CRM_TASK, UF_TASK_WEBDAV_FILES and UF_MAIL_MESSAGE are "not returned by default — put
    # one in SELECT and all three return" (Bitrix24's REST docs: api-reference/tasks/fields.md).
    with_ufs = any(name.upper() in _TASK_UFS for name in select)
    tasks = []
    for view in page.items:
        stored = ctx.store.tasks[php_intval(view["id"])]
        item = {
            k: v
            for k, v in stored.items()
            if (k in _TASK_UF_KEYS and with_ufs)
            or (k not in _TASK_UF_KEYS and (wanted is None or k in wanted))
        }
        if with_ufs:
            # An empty user field reads as `false`, as the demo's unbound tasks store it.
            item.update({k: False for k in _TASK_UF_KEYS if k not in item})
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


#: CRM binding prefixes of ``UF_CRM_TASK`` (Bitrix24's REST docs: tasks-task-add.md lists ``D_``,
#: ``L_``, ``C_``, ``CO_``, ``SI_`` and ``Txx_``) and the store holding each, where we hold one.
_CRM_PREFIXES = {"D": "deals", "CO": "companies", "L": None, "C": None, "SI": None}


def _crm_links(ctx: CallContext, raw: Any) -> list[str]:
    """``UF_CRM_TASK`` as stored: each ``D_<id>`` must name an existing deal.

    The real portal's behaviour on a dangling binding is not in our sources; the emulator
    refuses it (400 ERROR_CORE) so a test — and the bot — never take a task "bound to a house"
    that does not exist for a successful write.
    """
    values = as_php_array(raw)
    links = [php_string(v).strip() for v in (values or {"0": raw}).values() if php_truthy(v)]
    for link in links:
        prefix, _, number = link.partition("_")
        known = prefix in _CRM_PREFIXES or (prefix.startswith("T") and prefix[1:].isalnum())
        if not known or not number.isdigit():
            raise _core_error(f'Invalid CRM binding "{link}" in the "UF_CRM_TASK" field')
        attribute = _CRM_PREFIXES.get(prefix)
        if attribute is not None and int(number) not in getattr(ctx.store, attribute):
            raise _core_error(f'CRM item "{link}" specified in the "UF_CRM_TASK" field not found')
    return links


def _webdav_files(ctx: CallContext, raw: Any) -> list[str]:
    """``UF_TASK_WEBDAV_FILES``: Drive files as ``n<disk id>`` (Bitrix24's REST docs:
    tasks-task-add.md); every id must be an uploaded file (emulator strictness, as above)."""
    values = as_php_array(raw)
    files = [php_string(v).strip() for v in (values or {"0": raw}).values() if php_truthy(v)]
    for item in files:
        if not (item.startswith("n") and item[1:].isdigit()):
            raise _core_error(f'Invalid file "{item}" in the "UF_TASK_WEBDAV_FILES" field')
        if int(item[1:]) not in ctx.store.disk_files:
            raise _core_error(
                f'File "{item}" specified in the "UF_TASK_WEBDAV_FILES" field not found'
            )
    return files


def task_add(ctx: CallContext, params: Params) -> MethodOutput:
    """`tasks.task.add`: validates, stores the task, answers ``result.task`` (camelCase).

    Rules (Bitrix24's REST docs, ``api-reference/tasks/tasks-task-add.md``): TITLE required
    ("Task title not specified"), RESPONSIBLE_ID required ("Assignee not specified");
    DEADLINE ISO 8601; UF_CRM_TASK ``["D_<id>"]``; UF_TASK_WEBDAV_FILES ``["n<id>"]``;
    CREATED_BY defaults to the webhook's user (calls run as the employee who created the
    webhook, reference §1.1). The assignee must be an existing *active* user — a fired employee
    cannot be assigned in the UI; the exact REST text for that case is not sourced, so it reuses
    the "not found" one.
    """
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
    responsible = ctx.store.users.get(responsible_id)
    if responsible is None or responsible.get("ACTIVE") is False:
        raise _core_error('User specified in the "Assignee" field not found')
    creator_id = php_intval(upper.get("CREATED_BY")) or ctx.options.user_id
    if creator_id not in ctx.store.users:
        raise _core_error('User specified in the "Created by" field not found')
    status = php_string(upper.get("STATUS", "2"))
    if status not in ("1", "2", "3", "4", "5", "6", "7"):
        raise _core_error("Invalid status")
    deadline = None
    if upper.get("DEADLINE"):
        moment = parse_datetime(upper["DEADLINE"], ctx.tz)
        if moment is None:
            raise _core_error('Incorrect value in the "Deadline" field')
        deadline = iso(moment.astimezone(ctx.tz))
    links = _crm_links(ctx, upper.get("UF_CRM_TASK"))
    files = _webdav_files(ctx, upper.get("UF_TASK_WEBDAV_FILES"))
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
        "createdBy": str(creator_id),
        "groupId": str(php_intval(upper.get("GROUP_ID"))),
        "ufCrmTask": links,
    }
    if files:
        record["ufTaskWebdavFiles"] = files
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


_CALENDAR_TYPES = ("user", "group", "company_calendar")


def _missing_for(method: str, name: str) -> MethodError:
    return MethodError("", f'The required parameter "{name}" for the method "{method}" is not set')


def _calendar_record(
    event_id: int,
    *,
    cal_type: str,
    owner_id: int,
    section: int,
    name: str,
    begins: datetime,
    ends: datetime,
    all_day: bool,
    author: int,
    description: str,
    location: str,
    attendees: list[int],
) -> Record:
    """An event as `calendar.event.get` returns it (the store's ``events`` shape)."""
    offset = begins.utcoffset()
    offset_seconds = int(offset.total_seconds()) if offset else 0
    # DATE_FROM/DATE_TO in the Russian portal's site format (reference §7.12, §7.14).
    fmt = "%d.%m.%Y" if all_day else "%d.%m.%Y %H:%M:%S"
    host = author if cal_type == "user" and not owner_id else owner_id or author
    return {
        "ID": str(event_id),
        "PARENT_ID": str(event_id),
        "DELETED": "N",
        "CAL_TYPE": cal_type,
        "OWNER_ID": str(owner_id),
        "NAME": name,
        "DATE_FROM": begins.strftime(fmt),
        "DATE_TO": ends.strftime(fmt),
        "TZ_FROM": str(begins.tzinfo),
        "TZ_TO": str(ends.tzinfo),
        "TZ_OFFSET_FROM": str(offset_seconds),
        "TZ_OFFSET_TO": str(offset_seconds),
        "DATE_FROM_TS_UTC": str(int(begins.timestamp())),
        "DATE_TO_TS_UTC": str(int(ends.timestamp())),
        "DT_SKIP_TIME": "Y" if all_day else "N",
        "DT_LENGTH": int((ends - begins).total_seconds()) + (86400 if all_day else 0),
        "CREATED_BY": str(author),
        "DESCRIPTION": description,
        "LOCATION": location,
        "COLOR": "#9dcf00",
        "IS_MEETING": bool(attendees),
        "MEETING_STATUS": "H" if attendees else "",
        "MEETING_HOST": str(host),
        "ATTENDEE_LIST": [
            {"id": user_id, "entryId": event_id, "status": "H" if user_id == host else "Q"}
            for user_id in dict.fromkeys([host, *attendees] if attendees else [])
        ],
        "SECTION_ID": str(section),
        "RRULE": "",
        "EXDATE": "",
        "REMIND": [],
        "UF_CRM_CAL_EVENT": False,
    }


def _event_moment(ctx: CallContext, params: Params, key: str) -> tuple[datetime | None, bool]:
    """``from``/``to`` (or ``from_ts``/``to_ts``, Unix seconds) and whether it is date-only."""
    raw = param(params, key)
    zone_raw = php_string(param(params, f"timezone_{key}")).strip()
    try:
        zone = ZoneInfo(zone_raw) if zone_raw else ctx.tz
    except (ZoneInfoNotFoundError, ValueError):
        zone = ctx.tz
    if raw is None or php_string(raw).strip() == "":
        stamp = param(params, f"{key}_ts")
        if stamp is None or php_intval(stamp) <= 0:
            return None, False
        return datetime.fromtimestamp(php_intval(stamp), zone), False
    return parse_datetime(raw, zone), _is_date_only(raw)


def event_add(ctx: CallContext, params: Params) -> MethodOutput:
    """`calendar.event.add`: one event; the answer is its id.

    Required (Bitrix24's REST docs: ``api-reference/calendar/calendar-event/
    calendar-event-add.md``): ``type`` (``user``/``group``/``company_calendar``), ``ownerId``,
    ``from`` (or ``from_ts``), ``to`` (or ``to_ts``), ``section``, ``name``. Optional
    ``skip_time`` "Y" (dates without time), ``timezone_from``/``timezone_to``, ``description``,
    ``location``, ``attendees`` (user ids; ``is_meeting``). A missing one answers as
    `calendar.event.get` does (HTTP 400, ``"error": ""``, 'The required parameter "type" for
    the method "calendar.event.get" is not set', reference §7.12), with this method's name; as
    there, a user calendar's ``ownerId`` defaults to the webhook's user. Emulator strictness
    (texts not sourced): an unknown ``type``, unparseable dates, ``to`` before ``from``, an
    unknown or fired attendee are refused too, so nothing half-valid is stored.
    """
    method = "calendar.event.add"
    cal_type = php_string(param(params, "type")).strip()
    if not cal_type:
        raise _missing_for(method, "type")
    if cal_type not in _CALENDAR_TYPES:
        raise MethodError("", f'Invalid value of the parameter "type" for the method "{method}"')
    owner_raw = param(params, "ownerId")
    if owner_raw is not None and php_string(owner_raw).strip() != "":
        owner_id = php_intval(owner_raw)
    elif cal_type == "user":
        owner_id = ctx.options.user_id
    elif cal_type == "company_calendar" and owner_raw is not None:
        owner_id = 0  # The company calendar's owner is shown as 0 or "" (reference §7.12).
    else:
        raise _missing_for(method, "ownerId")
    begins, from_date_only = _event_moment(ctx, params, "from")
    if param(params, "from") is None and param(params, "from_ts") is None:
        raise _missing_for(method, "from")
    ends, to_date_only = _event_moment(ctx, params, "to")
    if param(params, "to") is None and param(params, "to_ts") is None:
        raise _missing_for(method, "to")
    if param(params, "section") is None or php_intval(param(params, "section")) <= 0:
        raise _missing_for(method, "section")
    name = php_string(param(params, "name")).strip()
    if not name:
        raise _missing_for(method, "name")
    if begins is None or ends is None:
        raise MethodError("", f'Invalid date in the parameters "from"/"to" of "{method}"')
    if ends < begins:
        raise MethodError("", f'The end of the event is earlier than its start in "{method}"')
    all_day = php_string(param(params, "skip_time")).upper() == "Y" or (
        from_date_only and to_date_only
    )
    attendees_raw = as_php_array(param(params, "attendees")) or {}
    attendees = [php_intval(a) for a in attendees_raw.values()]
    for user_id in attendees:
        user = ctx.store.users.get(user_id)
        if user is None or user.get("ACTIVE") is False:
            raise MethodError("", f'User {user_id} of the parameter "attendees" not found')
    event_id = max((php_intval(e.get("ID")) for e in ctx.store.events), default=0) + 1
    ctx.store.events.append(
        _calendar_record(
            event_id,
            cal_type=cal_type,
            owner_id=owner_id,
            section=php_intval(param(params, "section")),
            name=name,
            begins=begins,
            ends=ends,
            all_day=all_day,
            author=ctx.options.user_id,
            description=php_string(param(params, "description")),
            location=php_string(param(params, "location")),
            attendees=attendees,
        )
    )
    return MethodOutput(event_id)
