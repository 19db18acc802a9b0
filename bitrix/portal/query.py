"""How Bitrix24 list methods filter, order, select and page, plus PHP value semantics.

Bitrix is PHP: parameters arrive as strings (form bodies) or JSON values, and the server reads
them with PHP's loose rules. The helpers here reproduce the rules the emulator needs:

- `php_truthy`, `php_intval`, `php_string`: PHP's ``(bool)``, ``intval`` and string casts
  (``"false"`` is truthy, ``intval("12abc")`` is 12, ``(string)true`` is ``"1"``).
- Filters (`parse_filter`, `record_matches`): keys carry an operator prefix
  (``>=ID``, ``!@STAGE_ID``, ``%TITLE``); values compare numerically when both sides are
  numbers, as instants when both are dates, otherwise as case-insensitive strings (MySQL's
  default collation); a multiple field matches when any of its values does.
- Ordering (`parse_order`, `order_records`): NULLs first ascending, as MySQL sorts them.
- Paging (`orm_page`, `cdb_page`): 50 rows per page, the two `start` semantics of reference §3.

Written here rather than taken from a library: these are Bitrix's own (partly quirky) rules;
no Python package emulates them.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

#: Rows per page of every list method; there is no page-size parameter (reference §3).
PAGE_SIZE = 50

Record = dict[str, Any]

_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_INT_PREFIX = re.compile(r"^\s*[+-]?\d+")
_RU_DATE = re.compile(
    r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)


# --------------------------------------------------------------------------- PHP semantics


def php_truthy(value: Any) -> bool:
    """PHP's ``(bool)``: ``""``, ``"0"``, ``0``, ``null`` and empty arrays are false."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, list | tuple | dict):
        return len(value) > 0
    return True


def php_intval(value: Any) -> int:
    """PHP's ``intval``: the leading integer of a string (``"12abc"`` → 12, ``"abc"`` → 0)."""
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        if _NUMBER.match(value):
            return int(float(value))
        match = _INT_PREFIX.match(value)
        return int(match.group(0)) if match else 0
    if isinstance(value, list | tuple | dict):
        return 1 if value else 0
    return 0


def php_string(value: Any) -> str:
    """PHP's string cast: ``null``/``false`` → ``""``, ``true`` → ``"1"``, arrays → ``"Array"``."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple | dict):
        return "Array"
    return str(value)


def param(params: Mapping[str, Any], name: str) -> Any:
    """A parameter by name in any letter case (CRM methods accept ``filter`` and ``FILTER``)."""
    if name in params:
        return params[name]
    folded = name.casefold()
    for key, value in params.items():
        if key.casefold() == folded:
            return value
    return None


def as_php_array(value: Any) -> dict[str, Any] | None:
    """A PHP array parameter as a dict (lists keyed ``"0".."n-1"``); ``None`` if not an array."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return {str(i): v for i, v in enumerate(value)}
    return None


# --------------------------------------------------------------------------- values


def as_number(value: Any) -> float | None:
    """The value as a number when it is one (``"19999.99"``, ``37``); never for booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.isdigit():
            return float(value)  # The common case (IDs), without the regex.
        if _NUMBER.match(value):
            return float(value)
    return None


def parse_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """An ISO 8601 or Russian ``DD.MM.YYYY[ HH:MI[:SS]]`` date/time; naive ones in ``tz``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _RU_DATE.match(text)
    if match:
        day, month, year, hour, minute, second = match.groups()
        try:
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=tz,
            )
        except ValueError:
            return None
    if not text[:4].isdigit() or len(text) < 10:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def iso(moment: datetime) -> str:
    """PHP ``date('c')``: ``2024-08-29T10:34:19+03:00`` (seconds, with the offset)."""
    return moment.replace(microsecond=0).isoformat()


def compare(left: Any, right: Any, tz: tzinfo) -> int | None:
    """-1/0/1 comparing two scalars the way the portal's SQL would; ``None`` if either is null."""
    if left is None or right is None:
        return None
    left_num, right_num = as_number(left), as_number(right)
    if left_num is not None and right_num is not None:
        return (left_num > right_num) - (left_num < right_num)
    left_dt, right_dt = parse_datetime(left, tz), parse_datetime(right, tz)
    if left_dt is not None and right_dt is not None:
        return (left_dt > right_dt) - (left_dt < right_dt)
    left_text, right_text = php_string(left).casefold(), php_string(right).casefold()
    return (left_text > right_text) - (left_text < right_text)


def is_empty(value: Any) -> bool:
    """NULL or empty as a filter sees it: ``None``, ``""``, ``[]``, ``False``."""
    return value is None or value is False or value in ("", [], {})


# --------------------------------------------------------------------------- filters

#: Operator prefixes, longest first so ``>=`` wins over ``>`` (reference §7.1).
OPERATORS: tuple[str, ...] = (
    "!@",
    ">=",
    "<=",
    "!=",
    "=%",
    "%=",
    "!%",
    ">",
    "<",
    "@",
    "%",
    "=",
    "!",
)
_NEGATIVE = {"!": "=", "!=": "=", "!@": "@", "!%": "%"}


@dataclass(frozen=True)
class Condition:
    """One filter entry: ``field`` compared with ``op`` against ``value``."""

    field: str
    op: str
    value: Any


def split_operator(key: str) -> tuple[str, str]:
    """``">=ID"`` → ``(">=", "ID")``; no prefix means ``"="``."""
    for op in OPERATORS:
        if key.startswith(op) and len(key) > len(op):
            return op, key[len(op) :]
    return "=", key


def parse_filter(
    raw: Mapping[str, Any], *, fields: Container[str] | None = None
) -> list[Condition]:
    """Conditions of a filter; keys naming unknown fields are ignored, as Bitrix does."""
    conditions = []
    for key, value in raw.items():
        op, field = split_operator(str(key))
        if fields is not None and field not in fields:
            continue
        conditions.append(Condition(field, op, value))
    return conditions


def _as_values(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def sql_like(pattern: str, text: str) -> bool:
    """SQL LIKE with ``%`` and ``_`` wildcards, case-insensitive."""
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.casefold()
    )
    return re.fullmatch(regex, text.casefold(), flags=re.DOTALL) is not None


def _scalar_matches(record_value: Any, op: str, value: Any, tz: tzinfo, exact: bool) -> bool:
    if op in ("=", "@"):
        wanted = (
            _as_values(value) if op == "@" or isinstance(value, list | tuple | dict) else [value]
        )
        if op == "@" and isinstance(value, str):
            wanted = [part.strip() for part in value.split(",")]
        if op == "=" and (is_empty(value) or wanted == []):
            return is_empty(record_value)
        return any(compare(record_value, item, tz) == 0 for item in wanted)
    if op in (">", ">=", "<", "<="):
        values = _as_values(value)
        if not values or is_empty(value):
            return False
        result = compare(record_value, values[0], tz)
        if result is None:
            return False
        return {">": result > 0, ">=": result >= 0, "<": result < 0, "<=": result <= 0}[op]
    if op == "%":
        if exact:
            return _scalar_matches(record_value, "=", value, tz, exact)
        return (
            record_value is not None
            and php_string(value).casefold() in php_string(record_value).casefold()
        )
    if op in ("=%", "%="):
        return record_value is not None and sql_like(php_string(value), php_string(record_value))
    return False


def condition_matches(
    record_value: Any, condition: Condition, tz: tzinfo, *, exact: bool = False
) -> bool:
    """Whether a record's value satisfies one condition (any element of a multiple field).

    ``exact`` turns ``%`` into ``=`` (LIKE does not work on crm_status/crm_company fields).
    """
    op, value = condition.op, condition.value
    if op == "%" and not exact and is_empty(value):
        return True  # An empty LIKE is dropped by Bitrix's SQL builder: no restriction.
    if isinstance(record_value, bool):
        # A stored boolean is a 1/0 column: `"1"`/`"0"`/`1`/`0` filters match it.
        record_value = "1" if record_value else "0"
    if isinstance(value, bool):
        value = php_string(value)
    positive = _NEGATIVE.get(op, op)
    values = record_value if isinstance(record_value, list) else [record_value]
    if isinstance(record_value, list) and not record_value:
        values = [None]
    hit = any(_scalar_matches(item, positive, value, tz, exact) for item in values)
    return not hit if op in _NEGATIVE else hit


def record_matches(
    record: Mapping[str, Any],
    conditions: Iterable[Condition],
    tz: tzinfo,
    *,
    exact_fields: Container[str] = (),
) -> bool:
    """Whether ``record`` satisfies every condition (a missing key reads as NULL)."""
    return all(
        condition_matches(record.get(c.field), c, tz, exact=c.field in exact_fields)
        for c in conditions
    )


# --------------------------------------------------------------------------- ordering


def parse_order(
    raw: Any, *, fields: Container[str] | None = None, default: Sequence[tuple[str, bool]] = ()
) -> list[tuple[str, bool]]:
    """``{"ID": "DESC"}`` → ``[("ID", True)]`` (``True`` = descending); unknown fields dropped."""
    mapping = as_php_array(raw)
    if not mapping:
        return list(default)
    order = [
        (field, php_string(direction).strip().upper() == "DESC")
        for field, direction in mapping.items()
        if fields is None or field in fields
    ]
    return order or list(default)


def _sort_key_factory(records: Sequence[Mapping[str, Any]], field: str, tz: tzinfo) -> Any:
    values = [r.get(field) for r in records]
    present = [v[0] if isinstance(v, list) and v else v for v in values if not is_empty(v)]
    if present and all(as_number(v) is not None for v in present):

        def numeric(record: Mapping[str, Any]) -> tuple[int, float]:
            value = record.get(field)
            value = value[0] if isinstance(value, list) and value else value
            number = None if is_empty(value) else as_number(value)
            return (0, 0.0) if number is None else (1, number)

        return numeric
    if present and all(parse_datetime(v, tz) is not None for v in present):

        def temporal(record: Mapping[str, Any]) -> tuple[int, float]:
            value = record.get(field)
            value = value[0] if isinstance(value, list) and value else value
            moment = None if is_empty(value) else parse_datetime(value, tz)
            return (0, 0.0) if moment is None else (1, moment.timestamp())

        return temporal

    def textual(record: Mapping[str, Any]) -> tuple[int, str]:
        value = record.get(field)
        value = value[0] if isinstance(value, list) and value else value
        return (0, "") if is_empty(value) else (1, php_string(value).casefold())

    return textual


def order_records(
    records: Iterable[Record], order: Sequence[tuple[str, bool]], tz: tzinfo
) -> list[Record]:
    """Sort by several fields; each field compares as numbers, instants or text, NULLs first."""
    result = list(records)
    # Stable sorts applied from the last key to the first give a multi-key order in which each
    # field keeps its own direction and comparison kind.
    for field, descending in reversed(order):
        result.sort(key=_sort_key_factory(result, field, tz), reverse=descending)
    return result


# --------------------------------------------------------------------------- paging


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, and ``total``/``next`` (``None`` = key absent)."""

    items: list[Record]
    total: int | None
    next: int | None


def orm_page(items: Sequence[Record], start: int) -> Page:
    """ORM paging (e.g. `user.get`): ``offset = start`` exactly; ``start < 0`` skips the count.

    ``next = offset + rows`` while that is below the total. With the count skipped the total
    reads 0 and there is never a ``next`` (reference §3).
    """
    if start < 0:
        return Page(list(items[:PAGE_SIZE]), 0, None)
    rows = list(items[start : start + PAGE_SIZE])
    total = len(items)
    following = start + len(rows)
    return Page(rows, total, following if following < total else None)


def cdb_page(items: Sequence[Record], start: int) -> Page:
    """Old CDBResult paging (e.g. `department.get`): ``start`` rounds down to a page.

    ``page = intval(start / 50) + 1``; a page past the end is clamped to the last one, as
    CDBResult::NavStart does; ``next = page * 50`` while pages remain. ``start < 0`` is
    ``nTopCount 50``: the first 50 rows, total 0, no ``next``.
    """
    if start < 0:
        return Page(list(items[:PAGE_SIZE]), 0, None)
    total = len(items)
    page_count = max(1, -(-total // PAGE_SIZE))
    page = min(int(start / PAGE_SIZE) + 1, page_count)
    offset = (page - 1) * PAGE_SIZE
    return Page(
        list(items[offset : offset + PAGE_SIZE]),
        total,
        page * PAGE_SIZE if page < page_count else None,
    )
