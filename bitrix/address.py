"""House addresses as the company writes them in deal titles, normalised for matching.

A house deal's TITLE is the address as people say it:
"Пролетарская 112/1", "Чижевского 18", "Грабцевское шоссе 158", "Кондрово, Пушкина 78" (a
nearby town before the comma). This module splits such a title into town / street / number
and gives each part a canonical key, so "пролетарская д. 112 / 1", "15 корп. 2" and "15К2"
all meet the same house.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The home town: titles without "Town, " are in it.
DEFAULT_TOWN = "Калуга"

_STREET_WORDS = re.compile(
    r"\b(?:ул|улица|пр|пр-т|просп|проспект|пер|переулок|пл|площадь|б-р|бульвар|д|дом)\b\.?",
    re.IGNORECASE,
)
# A house number: digits, then an optional fraction, building ("к2", "корп. 2", "корпус 2",
# "стр. 1") or letter ("4а", "4 а").
_NUMBER = re.compile(
    r"(?P<num>\d+)\s*"
    r"(?:(?:/|дробь)\s*(?P<frac>\d+))?\s*"
    r"(?:(?:к|корп\.?|корпус)\s*(?P<corp>\d+))?\s*"
    r"(?:(?:стр\.?|строение)\s*(?P<bld>\d+))?\s*"
    r"(?:(?P<letter>[а-я])\b)?",
    re.IGNORECASE,
)
_TRAILING_NUMBER = re.compile(
    r"^(?P<street>.*?)[\s,]+(?:д\.?\s*|дом\s+)?(?P<number>\d+\s*(?:/\s*\d+)?"
    r"\s*(?:(?:к|корп\.?|корпус)\s*\d+)?\s*(?:(?:стр\.?|строение)\s*\d+)?\s*[а-яА-Я]?)\s*$"
)


def normalize_number(text: str) -> str:
    """Canonical house number: "112 / 1" → "112/1", "15 корп. 2" → "15к2", "4 А" → "4а"."""
    match = _NUMBER.search(text.replace("ё", "е"))
    if not match:
        return text.strip().lower()
    out = match.group("num")
    if match.group("frac"):
        out += "/" + match.group("frac")
    if match.group("corp"):
        out += "к" + match.group("corp")
    if match.group("bld"):
        out += "с" + match.group("bld")
    if match.group("letter"):
        out += match.group("letter").lower()
    return out


def street_key(street: str) -> str:
    """Canonical street key: lower case, ё→е, without "ул."/"улица" and punctuation.

    "Ст.Разина" → "ст разина", "Грабцевское шоссе" → "грабцевское шоссе".
    """
    text = street.lower().replace("ё", "е")
    text = _STREET_WORDS.sub(" ", text)
    text = re.sub(r"[^\w/]+", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Address:
    """A house address split into parts.

    ``street`` and ``number`` are as written in the CRM ("Ст.Разина", "15к2"); the ``*_key``
    forms are what matching compares.
    """

    title: str
    town: str
    street: str
    number: str

    @property
    def street_key(self) -> str:
        """The canonical key of the street (see :func:`street_key`)."""
        return street_key(self.street)

    @property
    def number_key(self) -> str:
        """The canonical house number (see :func:`normalize_number`)."""
        return normalize_number(self.number)

    @property
    def in_home_town(self) -> bool:
        """Whether the house is in the home town (titles without a "Town, " prefix)."""
        return self.town == DEFAULT_TOWN

    @property
    def street_label(self) -> str:
        """The street as people name it, with the town when it is not the home town."""
        return self.street if self.in_home_town else f"{self.town}, {self.street}"


def parse_address(title: str) -> Address | None:
    """Split a deal title into an :class:`Address`; ``None`` when it holds no house number.

    >>> parse_address("Кондрово, Пушкина 78")
    Address(title='Кондрово, Пушкина 78', town='Кондрово', street='Пушкина', number='78')
    """
    text = " ".join(title.replace("\u00a0", " ").split())
    town = DEFAULT_TOWN
    if "," in text:
        head, _, rest = text.partition(",")
        # "Кондрово, Пушкина 78": a town has no digits; "Пушкина, 78" has the number after it.
        if not any(ch.isdigit() for ch in head) and any(ch.isdigit() for ch in rest):
            candidate = head.strip()
            rest_match = _TRAILING_NUMBER.match(rest.strip())
            is_street = bool(re.match(r"(?:ул|улица|пр|просп|проспект|пер)\b", candidate.lower()))
            if rest_match and street_key(rest_match.group("street")) and not is_street:
                town = re.sub(r"^(?:г\.?|город)\s*", "", candidate, flags=re.IGNORECASE)
                text = rest.strip()
    match = _TRAILING_NUMBER.match(text)
    if not match:
        return None
    street = match.group("street").strip(" ,")
    street = re.sub(r"^(?:ул\.?|улица)\s+", "", street, flags=re.IGNORECASE)
    if not street or not any(ch.isalpha() for ch in street):
        return None
    number = normalize_number(match.group("number"))
    return Address(title=title, town=town, street=street, number=number)
