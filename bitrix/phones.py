"""Telephone numbers as the CRM holds them, reduced to one comparable form.

Bitrix24 user fields (``PERSONAL_MOBILE``, ``WORK_PHONE``, ``PERSONAL_PHONE``) are free text:
people type «8 (910) 123-45-67», «+7 910 123 45 67», «89101234567», or several numbers in one
field separated by «,» or «;». Telegram hands the bot a shared contact as digits with or
without «+» («79101234567», «+79101234567»). `normalize_phone` turns every such form of a
Russian number into ``+7XXXXXXXXXX`` (a 10-digit number without the trunk prefix too: «910
123-45-67»); other countries' numbers keep their digits behind «+». Nothing here logs a number.
"""

from __future__ import annotations

import re

__all__ = ["normalize_phone", "phone_numbers"]

_SEPARATORS = re.compile(r"[,;\n]|\s/\s")
_EXTENSION = re.compile(r"(?:доб\.?|доп\.?|ext\.?|вн\.?|#).*$", re.IGNORECASE)
#: Shorter digit strings are extensions or internal numbers, not phones anyone shares.
MIN_DIGITS = 10


def normalize_phone(text: str) -> str | None:
    """``+7XXXXXXXXXX`` for a Russian number in any usual form, ``+<digits>`` otherwise.

    None when ``text`` holds no plausible number (fewer than `MIN_DIGITS` digits).
    """
    text = _EXTENSION.sub("", text)
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_DIGITS or len(digits) > 15:
        return None
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10 and not text.lstrip().startswith("+"):
        # «910 123-45-67»: a Russian number written without the trunk prefix.
        return "+7" + digits
    return "+" + digits


def phone_numbers(*values: object) -> tuple[str, ...]:
    """Every number in the given CRM field values, normalised, without duplicates, in order."""
    seen: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str) or not value.strip():
            continue
        for part in _SEPARATORS.split(value):
            number = normalize_phone(part)
            if number is not None:
                seen.setdefault(number, None)
    return tuple(seen)
