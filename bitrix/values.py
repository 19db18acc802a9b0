"""Tolerant readers for values as Bitrix24 really sends them.

Numbers arrive as strings ("120"), sometimes as ``""``, ``null`` or JSON numbers; booleans as
``true``/``"Y"``/``"1"``; multiple fields as lists, ``false`` or ``null``; dates as ISO strings
with an offset, or in the portal's locale format for calendar events (reference §7.5, §7.14).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, tzinfo
from typing import Any


def as_int(value: Any, *, high: int | None = None) -> int | None:
    """``"120"``, ``120``, ``"120.0"`` → 120; ``""``, ``None``, ``"abc"`` → None.

    Negatives, fractions, non-finite numbers (``"nan"``, ``"inf"``) and anything above ``high``
    (``"1e9"``, ``"99999999999999999999"``) are None too: a count nobody can have is unknown, and
    it must not reach a sum. Never raises.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 and (high is None or value <= high) else None
    if isinstance(value, float):
        number = value
    else:
        text = str(value).strip().replace(" ", "").replace(",", ".")
        # A cell is a handful of digits; a 10 kB string is not a number worth parsing.
        if not text or len(text) > 32:
            return None
        if text.isascii() and text.isdigit():
            # Exact for ids longer than a float's 53-bit mantissa.
            exact = int(text)
            return exact if high is None or exact <= high else None
        try:
            number = float(text)
        except ValueError:
            return None
    # `int(nan)` raises ValueError and `int(inf)` OverflowError: check finiteness first.
    if not math.isfinite(number) or number < 0 or (high is not None and number > high):
        return None
    if number != int(number):
        return None
    return int(number)


def as_str(value: Any) -> str | None:
    """A non-empty stripped string, or None (``None``, ``""``, ``"0"`` ids are "no value")."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def as_id(value: Any) -> str | None:
    """A foreign-key id: None for ``None``, ``""``, ``"0"`` and ``0`` (Bitrix's "none")."""
    text = as_str(value)
    return None if text in (None, "0") else text


def as_bool(value: Any) -> bool:
    """``true``, ``"Y"``, ``"1"``, ``1`` → True; everything else False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().upper() in ("Y", "1", "TRUE")


def as_list(value: Any) -> list[Any]:
    """A multiple field's values: lists as they are; ``None``/``false``/``""`` → []."""
    if isinstance(value, list):
        return [v for v in value if v not in (None, "", False)]
    if value in (None, "", False):
        return []
    return [value]


def as_datetime(value: Any, tz: tzinfo | None = None) -> datetime | None:
    """Parse an ISO 8601 datetime (with or without offset) or a date; None when unparseable.

    Naive values are taken to be in ``tz`` (default UTC).
    """
    text = as_str(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed_local = _parse_locale(text)
        if parsed_local is None:
            return None
        parsed = parsed_local
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz or UTC)
    return parsed


def as_date(value: Any, tz: tzinfo | None = None) -> date | None:
    """The calendar date of an ISO date/datetime in ``tz`` (CRM date fields carry a time)."""
    parsed = as_datetime(value, tz)
    if parsed is None:
        return None
    return parsed.astimezone(tz).date() if tz else parsed.date()


_LOCALE = re.compile(
    r"^(\d{1,2})[./](\d{1,2})[./](\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm)?)?$",
    re.IGNORECASE,
)


def _parse_locale(text: str) -> datetime | None:
    """The portal's locale formats: "25.11.2026 10:00:00" (ru), "11/25/2026 10:00:00 am" (en)."""
    match = _LOCALE.match(text.strip())
    if not match:
        return None
    first, second, year, hour, minute, second_s, ampm = match.groups()
    day, month = (int(first), int(second)) if "." in text else (int(second), int(first))
    h = int(hour or 0)
    if ampm:
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        return datetime(int(year), month, day, h, int(minute or 0), int(second_s or 0))  # noqa: DTZ001 - the caller attaches the zone
    except ValueError:
        return None


def from_timestamp(value: Any) -> datetime | None:
    """A Unix timestamp (number or string, as in ``DATE_FROM_TS_UTC``) as an aware datetime."""
    text = as_str(value)
    if text is None:
        return None
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
