"""Date expressions in normalised Russian text, resolved to ranges against a given ``today``.

The caller resolves "today" in the bot's TIMEZONE and passes it in; nothing here reads a
clock. dateparser is not used as the primary parser: it has no week ranges and fails on
spelled-out dates and whole sentences. After ITN a small rule table
is enough and exact.

Recognised (a leading "в/во/на/к/ко/по/за" is included in the span):

* "сегодня", "завтра", "послезавтра", "вчера", "позавчера" and their adjectives
  ("завтрашние задачи");
* weekdays in any case, singular or plural ("в пятницу", "к пятнице", "по средам", "пт"):
  the next such day, today if it is that weekday (in a question about the past, ``past=True``
  — «что было в понедельник» — the latest such day, today included); "в эту / следующую /
  прошлую пятницу" pick that day of the current / next / previous week (Monday..Sunday);
* "на этой / следующей / прошлой неделе" (any case, also "текущей", "будущей", "на неделе")
  → Monday..Sunday;
* "на выходных", "в выходные" → Saturday..Sunday of the current week (which is the coming
  weekend on weekdays and the current one on Saturday and Sunday); "на следующих выходных" …;
* "через N дней / недель / месяцев", "через день / неделю / месяц / пару дней" → one day;
* "N <month>" after ITN ("пятнадцатого декабря" → "15 декабря"), optionally with a year,
  and "N числа": the next day N, today included («14 числа» on 25 November is 14 December;
  with ``past=True`` the latest one: «что убирали 14 числа» is 14 November);
* "в этом / следующем / прошлом году" → the whole year;
* "в этом / следующем / прошлом месяце" and a named month ("в декабре", "на декабрь",
  "декабрь 2026") → the whole month.

**Year rule** for a day or month named without a year: it is placed in the twelve months
that start two months before today's month (a date up to about two months in the past keeps
this year; earlier ones move to next year; on 5 January, "28 декабря" is the one just past).
For a day: the candidate year closest to ``today + 121 days`` — the centre of the window
[today − 61 days, today + 304 days]; "29 февраля" goes to the nearest leap year.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bot.nlu.normalize import NormalizedText, normalize
from bot.nlu.numbers import Token, TokenKind

__all__ = [
    "DateKind",
    "DateMatch",
    "DateRange",
    "find_date",
    "find_dates",
    "find_month",
    "month_range",
    "resolve_day_month",
    "resolve_month",
]


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of days; a single day has ``start == end``."""

    start: date
    end: date

    @property
    def month(self) -> str:
        """``YYYY-MM`` of the first day (for schedule questions)."""
        return f"{self.start.year:04d}-{self.start.month:02d}"

    def union(self, other: DateRange) -> DateRange:
        """The smallest range covering both ("сегодня и завтра", "с понедельника по среду")."""
        return DateRange(min(self.start, other.start), max(self.end, other.end))

    def to_json(self) -> dict[str, str]:
        """The slot shape (docs/intents.md): ``{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}``."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


class DateKind(StrEnum):
    """What kind of expression matched."""

    DAY = "day"  # сегодня, завтра, …
    WEEKDAY = "weekday"
    WEEK = "week"
    WEEKEND = "weekend"
    RELATIVE = "relative"  # через N дней
    DAY_OF_MONTH = "day_of_month"  # 15 декабря, 15 числа
    MONTH = "month"  # в декабре, в этом месяце
    YEAR = "year"  # в этом году


@dataclass(frozen=True, slots=True)
class DateMatch:
    """A date expression found in normalised text.

    ``start``/``end`` are the half-open span of indices into `NormalizedText.tokens`;
    ``text`` is those tokens' text joined by spaces.
    """

    range: DateRange
    start: int
    end: int
    kind: DateKind
    text: str


# Written out rather than generated with pymorphy3: a closed set of 19 words, and the test
# suite cross-checks every form against pymorphy3's lexemes.
def _forms(stem: str, endings: str) -> list[str]:
    return [stem + e for e in endings.split(",")]


_MASC_HARD = ",а,у,ом,е,и,ов,ам,ами,ах"
_FEM_A = "а,ы,е,у,ой,ою,,ам,ами,ах"
_FEM_ICA = "а,ы,е,у,ей,ею,,ам,ами,ах"
_WEEKDAY_FORMS: tuple[list[str], ...] = (
    [*_forms("понедельник", _MASC_HARD), "пн"],
    [*_forms("вторник", _MASC_HARD), "вт"],
    [*_forms("сред", _FEM_A), "ср"],
    [*_forms("четверг", _MASC_HARD), "чт"],
    [*_forms("пятниц", _FEM_ICA), "пт"],
    [*_forms("суббот", _FEM_A), "сб"],
    # "воскресение" (resurrection) is a frequent misspelling and ASR result for "воскресенье".
    [
        *_forms("воскресень", "е,я,ю,ем,и,ям,ями,ях"),
        *_forms("воскресени", "е,я,ю,ем,и,й,ям,ями,ях"),
    ],
)
_MONTH_STEMS = (
    "январ",
    "феврал",
    "март",
    "апрел",
    "ма",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
)


def _month_forms(stem: str) -> list[str]:
    if stem == "ма":
        return ["май", "мая", "маю", "маем", "мае"]
    if stem in ("март", "август"):
        return _forms(stem, ",а,у,ом,е")
    return _forms(stem, "ь,я,ю,ем,е")


_WEEKDAYS: dict[str, int] = {f: i for i, forms in enumerate(_WEEKDAY_FORMS) for f in forms}
_MONTHS: dict[str, int] = {
    f: i + 1 for i, stem in enumerate(_MONTH_STEMS) for f in _month_forms(stem)
}
# Typed abbreviations after «в»/«на» («когда в дек», «график на янв»): only those that are
# no other word («мар», «май», «июн», «июл» are left out as ambiguous or already whole).
_MONTHS.update(
    {"янв": 1, "фев": 2, "февр": 2, "апр": 4, "авг": 8, "сен": 9, "сент": 9, "окт": 10,
     "нояб": 11, "дек": 12}
)  # fmt: skip
_PREPOSITIONS = frozenset({"в", "во", "на", "к", "ко", "по", "за"})
_THIS = frozenset(
    {"этот", "эта", "это", "эту", "этой", "этом", "этих", "этого", "этим", "этими", "этому"}
)
_WEEK = frozenset({"неделя", "недели", "неделе", "неделю", "неделей", "неделею"})
_WEEKS = _WEEK | {"недель", "неделям", "неделях"}
_WEEKEND = frozenset({"выходные", "выходных", "выходным", "выходными"})
_MONTH_NOUN = frozenset({"месяц", "месяца", "месяцу", "месяцем", "месяце"})
_MONTHS_NOUN = _MONTH_NOUN | {"месяцев"}
_DAYS_NOUN = frozenset({"день", "дня", "дней", "дню", "сутки", "суток"})
_DAY_OF_MONTH = frozenset({"число", "числа", "числу"})
_YEAR_NOUN = frozenset({"год", "года", "году"})
_PAIR = frozenset({"пару", "пара", "пары"})
_DAY_WORDS: dict[str, int] = {
    "сегодня": 0,
    "завтра": 1,
    "послезавтра": 2,
    "вчера": -1,
    "позавчера": -2,
}
_DAY_ADJECTIVE_STEMS: tuple[tuple[str, int], ...] = (
    ("сегодняшн", 0),
    ("послезавтрашн", 2),
    ("завтрашн", 1),
    ("позавчерашн", -2),
    ("вчерашн", -1),
)


#: Prepositions that make a date a target, never looking back («на пятницу», «к понедельнику»).
_TARGET_PREPOSITIONS = frozenset({"на", "к", "ко"})


class _Mod(StrEnum):
    THIS = "this"
    NEXT = "next"
    PREV = "prev"
    NEAREST = "nearest"


def _modifier(word: str) -> _Mod | None:
    if word in _THIS or word.startswith("текущ"):
        return _Mod.THIS
    # «некст»: the English "next" as people type it in chats.
    if word.startswith(("следующ", "будущ")) or word in ("след", "некст"):
        return _Mod.NEXT
    if word.startswith(("прошл", "прошедш", "предыдущ")):
        return _Mod.PREV
    if word.startswith("ближайш"):
        return _Mod.NEAREST
    return None


_WEEK_SHIFT = {_Mod.THIS: 0, _Mod.NEAREST: 0, _Mod.NEXT: 7, _Mod.PREV: -7}
_MONTH_SHIFT = {_Mod.THIS: 0, _Mod.NEAREST: 0, _Mod.NEXT: 1, _Mod.PREV: -1}


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def month_range(year: int, month: int) -> DateRange:
    """The whole calendar month."""
    return DateRange(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def resolve_month(month: int, today: date) -> DateRange:
    """A month named without a year: within the twelve months starting two months before
    today's month ("в декабре" on 2027-01-05 → December 2026; "в марте" on 2026-11-25 →
    March 2027)."""
    delta = (month - today.month) % 12
    if delta > 9:
        delta -= 12
    return month_range(*_add_months(today.year, today.month, delta))


def resolve_day_month(day: int, month: int, today: date, year: int | None = None) -> date | None:
    """The date of "<day> <month> [year]"; without a year see the module docstring's rule.

    None when no such date exists (31 February).
    """
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    centre = today + timedelta(days=121)
    candidates = []
    # Up to four years ahead so that "29 февраля" finds the next leap year.
    for y in range(today.year - 1, today.year + 5):
        try:
            candidates.append(date(y, month, day))
        except ValueError:
            continue
    if not candidates:
        return None
    return min(candidates, key=lambda c: abs((c - centre).days))


def _add_months_clamped(day: date, months: int) -> date:
    year, month = _add_months(day.year, day.month, months)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _number(token: Token | None, low: int, high: int) -> int | None:
    if token is None or token.value is None:
        return None
    if token.kind not in (TokenKind.CARDINAL, TokenKind.ORDINAL):
        return None
    return token.value if low <= token.value <= high else None


class _Scanner:
    """One left-to-right pass over the tokens of a normalised text."""

    def __init__(self, tokens: tuple[Token, ...], today: date, *, past: bool = False) -> None:
        self.tokens = tokens
        self.words = [t.text if t.kind is TokenKind.WORD else "" for t in tokens]
        self.today = today
        self.past = past
        # Whether the expression being matched looks back: a past question, unless the date
        # is a target («что запланировали на пятницу» is the coming Friday).
        self.back = False
        self.monday = today - timedelta(days=today.weekday())

    def word(self, i: int) -> str:
        return self.words[i] if i < len(self.words) else ""

    def token(self, i: int) -> Token | None:
        return self.tokens[i] if i < len(self.tokens) else None

    def year_after(self, i: int) -> tuple[int | None, int]:
        """An optional year ("2026", "2026 года") at ``i``: (year, end)."""
        year = _number(self.token(i), 1900, 2100)
        if year is None:
            return None, i
        return year, i + 2 if self.word(i + 1) in _YEAR_NOUN else i + 1

    def match(self, i: int) -> tuple[DateRange | None, int, DateKind] | None:
        """An expression whose first word (after an optional preposition) is at ``i``.

        A range of None means "a date-shaped phrase that names no day" (31 февраля): it is
        consumed, so that its month word is not read as a month of its own.
        """
        today = self.today
        word = self.word(i)
        if word in _DAY_WORDS:
            day = today + timedelta(days=_DAY_WORDS[word])
            return DateRange(day, day), i + 1, DateKind.DAY
        for stem, shift in _DAY_ADJECTIVE_STEMS:
            if word.startswith(stem):
                day = today + timedelta(days=shift)
                return DateRange(day, day), i + 1, DateKind.DAY

        mod = _modifier(word)
        j = i + 1 if mod is not None else i
        head = self.word(j)
        if head in _WEEKDAYS:
            weekday = _WEEKDAYS[head]
            if mod is None and self.back:
                day = today - timedelta(days=(today.weekday() - weekday) % 7)
            elif mod is None or mod is _Mod.NEAREST:
                day = today + timedelta(days=(weekday - today.weekday()) % 7)
            else:
                day = self.monday + timedelta(days=_WEEK_SHIFT[mod] + weekday)
            return DateRange(day, day), j + 1, DateKind.WEEKDAY
        if head in _WEEK and mod is not None:
            start = self.monday + timedelta(days=_WEEK_SHIFT[mod])
            return DateRange(start, start + timedelta(days=6)), j + 1, DateKind.WEEK
        if head in _WEEKEND:
            start = self.monday + timedelta(days=5 + _WEEK_SHIFT[mod or _Mod.THIS])
            return DateRange(start, start + timedelta(days=1)), j + 1, DateKind.WEEKEND
        if head in _YEAR_NOUN and mod is not None and mod is not _Mod.NEAREST:
            # «в этом году»: said, so applied or reported — never dropped.
            year = today.year + _MONTH_SHIFT[mod]
            return DateRange(date(year, 1, 1), date(year, 12, 31)), j + 1, DateKind.YEAR
        if head in _MONTH_NOUN and mod is not None:
            return (
                month_range(*_add_months(today.year, today.month, _MONTH_SHIFT[mod])),
                j + 1,
                DateKind.MONTH,
            )
        if mod is not None:
            return None

        if word == "через":
            return self.match_after(i + 1)
        day_number = _number(self.token(i), 1, 31)
        if day_number is not None:
            nxt = self.word(i + 1)
            if nxt in _MONTHS:
                given_year, end = self.year_after(i + 2)
                resolved = resolve_day_month(day_number, _MONTHS[nxt], today, given_year)
                if resolved is None:
                    return None, end, DateKind.DAY_OF_MONTH  # "31 февраля": no such day
                return DateRange(resolved, resolved), end, DateKind.DAY_OF_MONTH
            if nxt in _DAY_OF_MONTH:
                resolved_day = self.day_of_month(day_number)
                if resolved_day is None:
                    return None
                return DateRange(resolved_day, resolved_day), i + 2, DateKind.DAY_OF_MONTH
            return None
        if word in _MONTHS:
            given_year, end = self.year_after(i + 1)
            if given_year is not None:
                return month_range(given_year, _MONTHS[word]), end, DateKind.MONTH
            return resolve_month(_MONTHS[word], today), i + 1, DateKind.MONTH
        return None

    def day_of_month(self, day: int) -> date | None:
        """ "N числа": the next day N from today (the latest one in a question about the
        past), looking at most two months away (31 skips the months without it)."""
        step = -1 if self.back else 1
        for delta in (0, step, 2 * step):
            year, month = _add_months(self.today.year, self.today.month, delta)
            if day > calendar.monthrange(year, month)[1]:
                continue
            candidate = date(year, month, day)
            if (candidate <= self.today) if self.back else (candidate >= self.today):
                return candidate
        return None

    def match_after(self, i: int) -> tuple[DateRange | None, int, DateKind] | None:
        """ "через …" with ``i`` just after "через"."""
        count = _number(self.token(i), 1, 1000)
        j = i + 1
        if count is None:
            count, j = (2, i + 1) if self.word(i) in _PAIR else (1, i)
        unit = self.word(j)
        if unit in _DAYS_NOUN:
            day = self.today + timedelta(days=count)
        elif unit in _WEEKS:
            day = self.today + timedelta(weeks=count)
        elif unit in _MONTHS_NOUN:
            day = _add_months_clamped(self.today, count)
        else:
            return None
        return DateRange(day, day), j + 1, DateKind.RELATIVE

    def scan(self) -> list[DateMatch]:
        found: list[DateMatch] = []
        i = 0
        while i < len(self.tokens):
            start = i
            result: tuple[DateRange | None, int, DateKind] | None = None
            self.back = self.past and self.word(i) not in _TARGET_PREPOSITIONS
            if self.word(i) in _PREPOSITIONS:
                result = self.match(i + 1)
                if result is None and self.word(i) == "на" and self.word(i + 1) in _WEEK:
                    # "на неделе" without a modifier: this week.
                    week = DateRange(self.monday, self.monday + timedelta(days=6))
                    result = (week, i + 2, DateKind.WEEK)
            if result is None:
                result = self.match(i)
            if result is None:
                i += 1
                continue
            date_range, end, kind = result
            if date_range is not None:
                text = " ".join(t.text for t in self.tokens[start:end])
                found.append(DateMatch(date_range, start, end, kind, text))
            i = end
        return found


def _as_normalized(text: NormalizedText | str) -> NormalizedText:
    return text if isinstance(text, NormalizedText) else normalize(text)


def find_dates(text: NormalizedText | str, today: date, *, past: bool = False) -> list[DateMatch]:
    """Every date expression in ``text`` (normalised, or a raw string to normalise), left to
    right, resolved against ``today``; ``past``: the request asks about the past («что было
    в понедельник»), so a bare weekday or "N числа" is the latest one, not the next."""
    return _Scanner(_as_normalized(text).tokens, today, past=past).scan()


def find_date(text: NormalizedText | str, today: date) -> DateMatch | None:
    """The first date expression in ``text``, or None."""
    found = find_dates(text, today)
    return found[0] if found else None


def find_month(text: NormalizedText | str, today: date) -> str | None:
    """``YYYY-MM`` for schedule questions: the month named ("в декабре", "в следующем
    месяце") or the month of the first date expression ("завтра"); None if there is none
    (the caller then uses the current month)."""
    match = find_date(text, today)
    return match.range.month if match else None
