"""Users and the company structure: `user.get`, `user.update`, `user.current`, `profile`,
`department.get`.

Behaviour follows the portal's PHP:

- `user.get` upper-cases all parameter keys; the filter is ``FILTER`` when it is an array,
  otherwise the top-level keys; only fields the webhook's user scope allows are filtered on or
  returned; ``ACTIVE`` is normalised with PHP truthiness (the string ``"false"`` means active);
  ``SORT`` applies only together with ``ORDER``; ORM paging, and an empty page carries no
  ``total`` at all.
- `department.get` reads ``FILTER`` (exact upper case) instead of the top level when it is an
  array; filter keys are recognised only in upper case, values are ``intval``'d (``NAME``
  compares like SQL LIKE without added wildcards); ``sort``/``order`` in any case; the default
  order is the tree order; CDBResult paging (``start`` rounds down to a page).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bitrix.portal.calls import CallContext, MethodOutput, Params
from bitrix.portal.errors import MethodError
from bitrix.portal.query import (
    Condition,
    Record,
    as_php_array,
    cdb_page,
    condition_matches,
    order_records,
    orm_page,
    php_intval,
    php_string,
    php_truthy,
    split_operator,
    sql_like,
)

# Fields each user scope may read (the portal's own lists; USER_TYPE is added with intranet).
_USER_FIELDS = (
    "ID", "XML_ID", "ACTIVE", "NAME", "LAST_NAME", "SECOND_NAME", "TITLE", "EMAIL",
    "LAST_LOGIN", "DATE_REGISTER", "TIME_ZONE", "IS_ONLINE", "TIME_ZONE_OFFSET", "TIMESTAMP_X",
    "LAST_ACTIVITY_DATE", "PERSONAL_GENDER", "PERSONAL_PROFESSION", "PERSONAL_WWW",
    "PERSONAL_BIRTHDAY", "PERSONAL_PHOTO", "PERSONAL_ICQ", "PERSONAL_PHONE", "PERSONAL_FAX",
    "PERSONAL_MOBILE", "PERSONAL_PAGER", "PERSONAL_STREET", "PERSONAL_CITY", "PERSONAL_STATE",
    "PERSONAL_ZIP", "PERSONAL_COUNTRY", "PERSONAL_MAILBOX", "PERSONAL_NOTES", "WORK_PHONE",
    "WORK_COMPANY", "WORK_POSITION", "WORK_DEPARTMENT", "WORK_WWW", "WORK_FAX", "WORK_PAGER",
    "WORK_STREET", "WORK_MAILBOX", "WORK_CITY", "WORK_STATE", "WORK_ZIP", "WORK_COUNTRY",
    "WORK_PROFILE", "WORK_LOGO", "WORK_NOTES", "UF_SKYPE_LINK", "UF_ZOOM", "UF_EMPLOYMENT_DATE",
    "UF_TIMEMAN", "UF_DEPARTMENT", "UF_INTERESTS", "UF_SKILLS", "UF_WEB_SITES", "UF_XING",
    "UF_LINKEDIN", "UF_FACEBOOK", "UF_TWITTER", "UF_SKYPE", "UF_DISTRICT", "UF_PHONE_INNER",
    "USER_TYPE",
)  # fmt: skip
_USER_BASIC_FIELDS = (
    "ID", "XML_ID", "ACTIVE", "NAME", "LAST_NAME", "SECOND_NAME", "TITLE", "EMAIL",
    "PERSONAL_PHONE", "WORK_PHONE", "WORK_POSITION", "WORK_COMPANY", "IS_ONLINE", "TIME_ZONE",
    "TIMESTAMP_X", "TIME_ZONE_OFFSET", "DATE_REGISTER", "LAST_ACTIVITY_DATE",
    "PERSONAL_PROFESSION", "PERSONAL_GENDER", "PERSONAL_BIRTHDAY", "PERSONAL_PHOTO",
    "PERSONAL_FAX", "PERSONAL_MOBILE", "PERSONAL_PAGER", "PERSONAL_STREET", "PERSONAL_MAILBOX",
    "PERSONAL_CITY", "PERSONAL_STATE", "PERSONAL_ZIP", "PERSONAL_COUNTRY", "PERSONAL_NOTES",
    "WORK_DEPARTMENT", "WORK_WWW", "WORK_FAX", "WORK_PAGER", "WORK_STREET", "WORK_MAILBOX",
    "WORK_CITY", "WORK_STATE", "WORK_ZIP", "WORK_COUNTRY", "WORK_PROFILE", "WORK_LOGO",
    "WORK_NOTES", "UF_DEPARTMENT", "UF_DISTRICT", "UF_SKYPE", "UF_SKYPE_LINK", "UF_ZOOM",
    "UF_TWITTER", "UF_FACEBOOK", "UF_LINKEDIN", "UF_XING", "UF_WEB_SITES", "UF_PHONE_INNER",
    "UF_EMPLOYMENT_DATE", "UF_TIMEMAN", "UF_SKILLS", "UF_INTERESTS", "USER_TYPE",
)  # fmt: skip
_USER_BRIEF_FIELDS = (
    "ID", "XML_ID", "ACTIVE", "NAME", "LAST_NAME", "SECOND_NAME", "TITLE", "IS_ONLINE",
    "TIME_ZONE", "TIME_ZONE_OFFSET", "TIMESTAMP_X", "DATE_REGISTER", "PERSONAL_PROFESSION",
    "PERSONAL_GENDER", "PERSONAL_BIRTHDAY", "PERSONAL_PHOTO", "PERSONAL_CITY", "PERSONAL_STATE",
    "PERSONAL_COUNTRY", "WORK_POSITION", "WORK_CITY", "WORK_STATE", "WORK_COUNTRY",
    "LAST_ACTIVITY_DATE", "UF_EMPLOYMENT_DATE", "UF_TIMEMAN", "UF_SKILLS", "UF_INTERESTS",
    "UF_DEPARTMENT", "UF_PHONE_INNER", "USER_TYPE",
)  # fmt: skip

#: Scopes that grant the user methods, any one of them.
USER_SCOPES = frozenset({"user", "user_basic", "user_brief"})
_FILTER_EXTRA = ("IS_ONLINE", "HAS_DEPARTAMENT", "NAME_SEARCH", "EXTERNAL_AUTH_ID")
_OPERATOR_PREFIX = re.compile(r"^(\W{1,2})(.+)", re.DOTALL)


def _allows(scopes: Iterable[str], key: str) -> bool:
    granted = set(scopes)
    if "user" in granted:
        return key in _USER_FIELDS or key.startswith("UF_USR_")
    if key.startswith("UF_USR_"):
        return "user.userfield" in granted
    if "user_basic" in granted:
        return key in _USER_BASIC_FIELDS
    return key in _USER_BRIEF_FIELDS


def user_view(record: Mapping[str, Any], scopes: Iterable[str]) -> Record:
    """A user record as the webhook's scope may see it (fields outside it silently dropped)."""
    granted = set(scopes)
    return {k: v for k, v in record.items() if _allows(granted, k)}


def _filter_value(code: str, value: Any) -> Any:
    """The portal's ``prepareUserValue``: ints for ID, Y/N for flags, a list for departments."""
    if code == "ID":
        if isinstance(value, list | dict):
            return [php_intval(v) for v in (value.values() if isinstance(value, dict) else value)]
        return php_intval(value)
    if code in ("ACTIVE", "IS_ONLINE"):
        # `$value && $value !== 'N'`: PHP truthiness, so the *string* "false" is 'Y'.
        return "Y" if php_truthy(value) and value != "N" else "N"
    if code == "UF_DEPARTMENT" and not isinstance(value, list | dict) and php_truthy(value):
        return [value]
    return value


def _name_search(record: Mapping[str, Any], text: str) -> bool:
    words = [w.casefold() for w in text.split() if w]
    names = [
        php_string(record.get(k)).casefold()
        for k in ("NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "WORK_POSITION")
    ]
    return all(any(n.startswith(w) for n in names) for w in words)


def _user_matches(
    ctx: CallContext, record: Mapping[str, Any], conditions: list[Condition]
) -> bool:
    for condition in conditions:
        field = condition.field
        if field == "NAME_SEARCH":
            if not _name_search(record, php_string(condition.value)):
                return False
            continue
        if field == "HAS_DEPARTAMENT":
            if condition.value == "Y" and not record.get("UF_DEPARTMENT"):
                return False
            continue
        value: Any = record.get(field)
        if field in ("ACTIVE", "IS_ONLINE") and isinstance(value, bool):
            value = "Y" if value else "N"
        if not condition_matches(value, condition, ctx.tz):
            return False
    return True


def user_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`user.get` (see the module docstring for its quirks)."""
    query = {str(k).upper(): v for k, v in params.items()}
    sort, order = query.get("SORT"), query.get("ORDER")
    nested = query.get("FILTER")
    source = query
    if isinstance(nested, dict | list) and as_php_array(nested) is not None:
        source = {k.upper(): v for k, v in (as_php_array(nested) or {}).items()}
    granted = ctx.options.scopes
    conditions = []
    for raw_key, value in source.items():
        prefix, code = "", raw_key
        match = _OPERATOR_PREFIX.match(raw_key)
        if match and match.group(2):
            prefix, code = match.group(1), match.group(2)
        if not (_allows(granted, code) or code in _FILTER_EXTRA):
            continue
        if code in ("HAS_DEPARTAMENT", "NAME_SEARCH"):
            prefix = ""
        op, _ = split_operator(prefix + "X") if prefix else ("=", code)
        conditions.append(Condition(code, op, _filter_value(code, value)))
    users = [u for u in ctx.store.users.values() if _user_matches(ctx, u, conditions)]
    ordered = order_records(users, [("ID", False)], ctx.tz)
    if php_truthy(sort) and php_truthy(order):
        ordered = order_records(
            ordered, [(php_string(sort).upper(), php_string(order).upper() == "DESC")], ctx.tz
        )
    page = orm_page(ordered, ctx.start)
    items = [user_view(u, granted) for u in page.items]
    if not items:
        # `setNavData` runs only `if ($result)`: an empty answer has no total at all.
        return MethodOutput([])
    return MethodOutput(items, page.total, page.next)


#: Fields `user.update` never changes (the portal ignores them rather than failing).
_USER_READ_ONLY = frozenset(
    {"ID", "XML_ID", "IS_ONLINE", "LAST_LOGIN", "DATE_REGISTER", "TIMESTAMP_X",
     "LAST_ACTIVITY_DATE", "TIME_ZONE_OFFSET", "USER_TYPE"}
)  # fmt: skip


def user_update(ctx: CallContext, params: Params) -> MethodOutput:
    """`user.update`: change a user's fields; administrators only; ``result`` is ``true``.

    As on the portal (DOCS ``user.update``: "Права на выполнение: администратор"; the example
    fires an employee with ``{"ID": 6, "ACTIVE": "N"}``): every key is upper-cased, ``ID`` is
    required, ``ACTIVE`` takes PHP truthiness with ``"N"`` false and is stored as a JSON bool
    (as `user.get` returns it), ``UF_DEPARTMENT`` becomes a list of ints, read-only fields are
    ignored, a field set to ``null`` is removed (`user.get` omits NULL fields).
    """
    if not ctx.options.admin:
        raise MethodError("ACCESS_DENIED", "Access denied!", 403)
    fields = {str(k).upper(): v for k, v in params.items()}
    user_id = php_intval(fields.pop("ID", 0))
    if user_id <= 0:
        raise MethodError("", "User ID is required", 400)
    record = ctx.store.users.get(user_id)
    if record is None:
        raise MethodError("", "User not found", 400)
    for key, value in fields.items():
        if key in _USER_READ_ONLY or not (key in _USER_FIELDS or key.startswith("UF_USR_")):
            continue
        if key == "ACTIVE":
            record[key] = bool(php_truthy(value) and value != "N")
        elif key == "UF_DEPARTMENT":
            items = value.values() if isinstance(value, dict) else value
            listed = items if isinstance(items, list | tuple) else [items]
            record[key] = [php_intval(v) for v in listed]
        elif value is None:
            record.pop(key, None)
        else:
            record[key] = php_string(value)
    return MethodOutput(True)


def user_current(ctx: CallContext, params: Params) -> MethodOutput:
    """`user.current`: the webhook owner, with the same field rules as `user.get`."""
    record = ctx.store.users.get(ctx.options.user_id)
    return MethodOutput(user_view(record, ctx.options.scopes) if record else [])


def profile(ctx: CallContext, params: Params) -> MethodOutput:
    """`profile` (basic scope): a short card of the webhook owner; ``[]`` when inactive."""
    record = ctx.store.users.get(ctx.options.user_id)
    if record is None or record.get("ACTIVE") is False:
        return MethodOutput([])
    offset = ctx.moment.utcoffset()
    result: Record = {
        "ID": php_string(record.get("ID", ctx.options.user_id)),
        "ADMIN": ctx.options.admin,
        "NAME": record.get("NAME"),
        "LAST_NAME": record.get("LAST_NAME"),
        "PERSONAL_GENDER": record.get("PERSONAL_GENDER", ""),
    }
    if record.get("PERSONAL_PHOTO"):
        result["PERSONAL_PHOTO"] = record["PERSONAL_PHOTO"]
    result["TIME_ZONE"] = record.get("TIME_ZONE", "")
    result["TIME_ZONE_OFFSET"] = int(offset.total_seconds()) if offset else 0
    return MethodOutput(result)


# --------------------------------------------------------------------------- departments

_DEPT_FIELDS = ("ID", "NAME", "SORT", "PARENT", "UF_HEAD")


def _tree_order(departments: Iterable[Record]) -> list[Record]:
    """Pre-order of the department tree, siblings by SORT then NAME (iblock LEFT_MARGIN)."""
    rows = list(departments)
    ids = {php_string(r.get("ID")) for r in rows}
    children: dict[str | None, list[Record]] = {}
    for row in rows:
        parent = row.get("PARENT")
        key = php_string(parent) if parent is not None and php_string(parent) in ids else None
        children.setdefault(key, []).append(row)
    for siblings in children.values():
        siblings.sort(key=lambda r: (php_intval(r.get("SORT")), php_string(r.get("NAME"))))
    ordered: list[Record] = []
    stack = list(reversed(children.get(None, [])))
    seen: set[str] = set()
    while stack:
        row = stack.pop()
        row_id = php_string(row.get("ID"))
        if row_id in seen:
            continue
        seen.add(row_id)
        ordered.append(row)
        stack.extend(reversed(children.get(row_id, [])))
    ordered.extend(r for r in rows if php_string(r.get("ID")) not in seen)
    return ordered


def _dept_matches(record: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    for key, wanted in conditions.items():
        if key == "NAME":
            if not sql_like(php_string(wanted), php_string(record.get("NAME"))):
                return False
            continue
        have = php_intval(record.get(key))
        if isinstance(wanted, list):
            if have not in wanted:
                return False
        elif have != wanted:
            return False
    return True


def department_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`department.get` (see the module docstring for its quirks)."""
    query: dict[str, Any] = dict(params)
    nested = params.get("FILTER")
    if isinstance(nested, dict | list):
        query = as_php_array(nested) or {}
    upper = {str(k).upper(): v for k, v in query.items()}
    sort_order: list[tuple[str, bool]] = []
    sort_field = upper.get("SORT")
    if isinstance(sort_field, str) and sort_field.upper() in _DEPT_FIELDS:
        direction = upper.get("ORDER")
        descending = isinstance(direction, str) and direction.upper() == "DESC"
        sort_order = [(sort_field.upper(), descending)]
    conditions: dict[str, Any] = {}
    for key, value in query.items():
        if key not in _DEPT_FIELDS:
            continue  # Filter keys are recognised only in upper case.
        if key == "NAME":
            conditions[key] = value
        elif isinstance(value, list | dict):
            items = value.values() if isinstance(value, dict) else value
            conditions[key] = [php_intval(v) for v in items] if key != "SORT" else 1
        else:
            conditions[key] = php_intval(value)
    rows = [d for d in _tree_order(ctx.store.departments.values()) if _dept_matches(d, conditions)]
    if sort_order:
        field, descending = sort_order[0]
        rows = order_records(rows, [(field, descending)], ctx.tz)
    page = cdb_page(rows, ctx.start)
    return MethodOutput([dict(r) for r in page.items], page.total, page.next)
