"""Date expressions against fixed days: a Wednesday, a Sunday and the year's end."""

from __future__ import annotations

from datetime import date

import pymorphy3
import pytest

from bot.nlu.dates import (
    DateKind,
    DateRange,
    find_date,
    find_dates,
    find_month,
    resolve_day_month,
    resolve_month,
)
from bot.nlu.normalize import normalize

WED = date(2026, 11, 25)  # Wednesday
SUN = date(2026, 11, 29)  # Sunday
YEAR_END = date(2026, 12, 30)  # Wednesday, two days before the new year


def test_fixed_days_are_what_the_tests_assume() -> None:
    assert (WED.isoweekday(), SUN.isoweekday(), YEAR_END.isoweekday()) == (3, 7, 3)


def d(text: str) -> date:
    return date.fromisoformat(text)


CASES: list[tuple[date, str, str, str, DateKind, str]] = [
    # today, request, from, to, kind, matched text
    (WED, "задачи на сегодня", "2026-11-25", "2026-11-25", DateKind.DAY, "на сегодня"),
    (WED, "какие дома убираем завтра", "2026-11-26", "2026-11-26", DateKind.DAY, "завтра"),
    (WED, "послезавтра", "2026-11-27", "2026-11-27", DateKind.DAY, "послезавтра"),
    (WED, "что было вчера", "2026-11-24", "2026-11-24", DateKind.DAY, "вчера"),
    (WED, "позавчера", "2026-11-23", "2026-11-23", DateKind.DAY, "позавчера"),
    (WED, "завтрашние задачи", "2026-11-26", "2026-11-26", DateKind.DAY, "завтрашние"),
    (WED, "уборка в пятницу", "2026-11-27", "2026-11-27", DateKind.WEEKDAY, "в пятницу"),
    (
        WED,
        "что в календаре на пятницу",
        "2026-11-27",
        "2026-11-27",
        DateKind.WEEKDAY,
        "на пятницу",
    ),
    (WED, "в среду", "2026-11-25", "2026-11-25", DateKind.WEEKDAY, "в среду"),
    (WED, "во вторник", "2026-12-01", "2026-12-01", DateKind.WEEKDAY, "во вторник"),
    (WED, "к понедельнику", "2026-11-30", "2026-11-30", DateKind.WEEKDAY, "к понедельнику"),
    (WED, "пятница", "2026-11-27", "2026-11-27", DateKind.WEEKDAY, "пятница"),
    (WED, "по средам", "2026-11-25", "2026-11-25", DateKind.WEEKDAY, "по средам"),
    (WED, "в эту пятницу", "2026-11-27", "2026-11-27", DateKind.WEEKDAY, "в эту пятницу"),
    (
        WED,
        "в следующую пятницу",
        "2026-12-04",
        "2026-12-04",
        DateKind.WEEKDAY,
        "в следующую пятницу",
    ),
    (WED, "в прошлый вторник", "2026-11-17", "2026-11-17", DateKind.WEEKDAY, "в прошлый вторник"),
    (
        WED,
        "в ближайшую субботу",
        "2026-11-28",
        "2026-11-28",
        DateKind.WEEKDAY,
        "в ближайшую субботу",
    ),
    (WED, "в субботу утром", "2026-11-28", "2026-11-28", DateKind.WEEKDAY, "в субботу"),
    (WED, "в воскресенье", "2026-11-29", "2026-11-29", DateKind.WEEKDAY, "в воскресенье"),
    (WED, "в воскресение", "2026-11-29", "2026-11-29", DateKind.WEEKDAY, "в воскресение"),
    (
        WED,
        "задачи на следующей неделе",
        "2026-11-30",
        "2026-12-06",
        DateKind.WEEK,
        "на следующей неделе",
    ),
    (WED, "встречи на этой неделе", "2026-11-23", "2026-11-29", DateKind.WEEK, "на этой неделе"),
    (WED, "на прошлой неделе", "2026-11-16", "2026-11-22", DateKind.WEEK, "на прошлой неделе"),
    (WED, "за прошлую неделю", "2026-11-16", "2026-11-22", DateKind.WEEK, "за прошлую неделю"),
    (WED, "на будущей неделе", "2026-11-30", "2026-12-06", DateKind.WEEK, "на будущей неделе"),
    (WED, "текущая неделя", "2026-11-23", "2026-11-29", DateKind.WEEK, "текущая неделя"),
    (WED, "что на неделе", "2026-11-23", "2026-11-29", DateKind.WEEK, "на неделе"),
    (WED, "на выходных", "2026-11-28", "2026-11-29", DateKind.WEEKEND, "на выходных"),
    (WED, "в выходные", "2026-11-28", "2026-11-29", DateKind.WEEKEND, "в выходные"),
    (
        WED,
        "на следующих выходных",
        "2026-12-05",
        "2026-12-06",
        DateKind.WEEKEND,
        "на следующих выходных",
    ),
    (WED, "через два дня", "2026-11-27", "2026-11-27", DateKind.RELATIVE, "через 2 дня"),
    (WED, "через 2 дня", "2026-11-27", "2026-11-27", DateKind.RELATIVE, "через 2 дня"),
    (WED, "через день", "2026-11-26", "2026-11-26", DateKind.RELATIVE, "через день"),
    (WED, "через пару дней", "2026-11-27", "2026-11-27", DateKind.RELATIVE, "через пару дней"),
    (WED, "через неделю", "2026-12-02", "2026-12-02", DateKind.RELATIVE, "через неделю"),
    (WED, "через три недели", "2026-12-16", "2026-12-16", DateKind.RELATIVE, "через 3 недели"),
    (WED, "через месяц", "2026-12-25", "2026-12-25", DateKind.RELATIVE, "через месяц"),
    (
        WED,
        "график на пятнадцатое марта",
        "2027-03-15",
        "2027-03-15",
        DateKind.DAY_OF_MONTH,
        "на 15 марта",
    ),
    (WED, "пятнадцатого декабря", "2026-12-15", "2026-12-15", DateKind.DAY_OF_MONTH, "15 декабря"),
    (WED, "двадцать первого марта", "2027-03-21", "2027-03-21", DateKind.DAY_OF_MONTH, "21 марта"),
    (WED, "первого декабря", "2026-12-01", "2026-12-01", DateKind.DAY_OF_MONTH, "1 декабря"),
    (WED, "на 1 октября", "2026-10-01", "2026-10-01", DateKind.DAY_OF_MONTH, "на 1 октября"),
    (WED, "на 20 сентября", "2027-09-20", "2027-09-20", DateKind.DAY_OF_MONTH, "на 20 сентября"),
    (WED, "задачи на 15.12", "2026-12-15", "2026-12-15", DateKind.DAY_OF_MONTH, "на 15 декабря"),
    (
        WED,
        "15 декабря 2027 года",
        "2027-12-15",
        "2027-12-15",
        DateKind.DAY_OF_MONTH,
        "15 декабря 2027 года",
    ),
    (
        WED,
        "двадцать девятого февраля",
        "2028-02-29",
        "2028-02-29",
        DateKind.DAY_OF_MONTH,
        "29 февраля",
    ),
    # "N числа" is the next day N: the 15th has passed on the 25th, so it is December's.
    (WED, "на 15 число", "2026-12-15", "2026-12-15", DateKind.DAY_OF_MONTH, "на 15 число"),
    (WED, "25 числа", "2026-11-25", "2026-11-25", DateKind.DAY_OF_MONTH, "25 числа"),
    (WED, "30 числа", "2026-11-30", "2026-11-30", DateKind.DAY_OF_MONTH, "30 числа"),
    (WED, "в этом месяце", "2026-11-01", "2026-11-30", DateKind.MONTH, "в этом месяце"),
    (WED, "в следующем месяце", "2026-12-01", "2026-12-31", DateKind.MONTH, "в следующем месяце"),
    (WED, "за прошлый месяц", "2026-10-01", "2026-10-31", DateKind.MONTH, "за прошлый месяц"),
    (WED, "в декабре", "2026-12-01", "2026-12-31", DateKind.MONTH, "в декабре"),
    (WED, "на январь", "2027-01-01", "2027-01-31", DateKind.MONTH, "на январь"),
    (WED, "в сентябре", "2026-09-01", "2026-09-30", DateKind.MONTH, "в сентябре"),
    (WED, "в августе", "2027-08-01", "2027-08-31", DateKind.MONTH, "в августе"),
    (WED, "февраль 2027", "2027-02-01", "2027-02-28", DateKind.MONTH, "февраль 2027"),
    # Sunday: "this week" is the one ending today; bare weekdays look ahead.
    (SUN, "на этой неделе", "2026-11-23", "2026-11-29", DateKind.WEEK, "на этой неделе"),
    (SUN, "на следующей неделе", "2026-11-30", "2026-12-06", DateKind.WEEK, "на следующей неделе"),
    (SUN, "в понедельник", "2026-11-30", "2026-11-30", DateKind.WEEKDAY, "в понедельник"),
    (SUN, "в воскресенье", "2026-11-29", "2026-11-29", DateKind.WEEKDAY, "в воскресенье"),
    (SUN, "в пятницу", "2026-12-04", "2026-12-04", DateKind.WEEKDAY, "в пятницу"),
    (SUN, "в эту пятницу", "2026-11-27", "2026-11-27", DateKind.WEEKDAY, "в эту пятницу"),
    (SUN, "на выходных", "2026-11-28", "2026-11-29", DateKind.WEEKEND, "на выходных"),
    (SUN, "завтра", "2026-11-30", "2026-11-30", DateKind.DAY, "завтра"),
    (SUN, "послезавтра", "2026-12-01", "2026-12-01", DateKind.DAY, "послезавтра"),
    # Year boundary
    (YEAR_END, "завтра", "2026-12-31", "2026-12-31", DateKind.DAY, "завтра"),
    (YEAR_END, "послезавтра", "2027-01-01", "2027-01-01", DateKind.DAY, "послезавтра"),
    (YEAR_END, "в пятницу", "2027-01-01", "2027-01-01", DateKind.WEEKDAY, "в пятницу"),
    (YEAR_END, "на этой неделе", "2026-12-28", "2027-01-03", DateKind.WEEK, "на этой неделе"),
    (
        YEAR_END,
        "на следующей неделе",
        "2027-01-04",
        "2027-01-10",
        DateKind.WEEK,
        "на следующей неделе",
    ),
    (YEAR_END, "на выходных", "2027-01-02", "2027-01-03", DateKind.WEEKEND, "на выходных"),
    (YEAR_END, "через неделю", "2027-01-06", "2027-01-06", DateKind.RELATIVE, "через неделю"),
    (YEAR_END, "через месяц", "2027-01-30", "2027-01-30", DateKind.RELATIVE, "через месяц"),
    (
        YEAR_END,
        "пятнадцатого января",
        "2027-01-15",
        "2027-01-15",
        DateKind.DAY_OF_MONTH,
        "15 января",
    ),
    (YEAR_END, "1 декабря", "2026-12-01", "2026-12-01", DateKind.DAY_OF_MONTH, "1 декабря"),
    (YEAR_END, "31 декабря", "2026-12-31", "2026-12-31", DateKind.DAY_OF_MONTH, "31 декабря"),
    (YEAR_END, "в январе", "2027-01-01", "2027-01-31", DateKind.MONTH, "в январе"),
    (
        YEAR_END,
        "в следующем месяце",
        "2027-01-01",
        "2027-01-31",
        DateKind.MONTH,
        "в следующем месяце",
    ),
    (YEAR_END, "в прошлом месяце", "2026-11-01", "2026-11-30", DateKind.MONTH, "в прошлом месяце"),
    (YEAR_END, "в октябре", "2026-10-01", "2026-10-31", DateKind.MONTH, "в октябре"),
    (YEAR_END, "в сентябре", "2027-09-01", "2027-09-30", DateKind.MONTH, "в сентябре"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_date_table(case: tuple[date, str, str, str, DateKind, str]) -> None:
    today, text, start, end, kind, matched = case
    found = find_date(text, today)
    assert found is not None
    assert found.range == DateRange(d(start), d(end))
    assert found.kind is kind
    assert found.text == matched


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("15 числа", "2026-11-15"),
        ("30 числа", "2026-10-30"),
        ("в понедельник", "2026-11-23"),
        ("в среду", "2026-11-25"),
        # A target date looks ahead even in a past-tense question: «запланировали на пятницу».
        ("на пятницу", "2026-11-27"),
        ("на 15 число", "2026-12-15"),
    ],
)
def test_a_question_about_the_past_looks_back(text: str, start: str) -> None:
    found = find_dates(text, WED, past=True)
    assert found and found[0].range.start == d(start)


@pytest.mark.parametrize(
    "text",
    [
        "какие дома у третьей бригады",
        "дом 5",
        "бригада номер пять",
        "31 февраля",
        "неделя",
        "этот дом",
        "через дом",
        "сколько человек в бригаде",
        "",
    ],
)
def test_no_date(text: str) -> None:
    assert find_dates(text, WED) == []


def test_span_indexes_normalized_tokens() -> None:
    norm = normalize("ну покажи задачи бригады три на следующей неделе")
    (found,) = find_dates(norm, WED)
    assert [t.text for t in norm.tokens[found.start : found.end]] == ["на", "следующей", "неделе"]
    assert [t.text for t in norm.tokens[: found.start]] == ["покажи", "задачи", "бригады", "3"]


def test_several_dates_and_union() -> None:
    found = find_dates("сегодня и завтра", WED)
    assert [m.range for m in found] == [
        DateRange(d("2026-11-25"), d("2026-11-25")),
        DateRange(d("2026-11-26"), d("2026-11-26")),
    ]
    span = found[0].range.union(found[1].range)
    assert span.to_json() == {"from": "2026-11-25", "to": "2026-11-26"}


@pytest.mark.parametrize(
    ("today", "text", "month"),
    [
        (WED, "график уборки в декабре", "2026-12"),
        (WED, "когда уборка в этом месяце", "2026-11"),
        (WED, "в следующем месяце", "2026-12"),
        (YEAR_END, "в следующем месяце", "2027-01"),
        (YEAR_END, "в январе", "2027-01"),
        (YEAR_END, "послезавтра", "2027-01"),
        (WED, "пятнадцатого декабря", "2026-12"),
        (WED, "график уборки пролетарская 112/1", None),
    ],
)
def test_find_month(today: date, text: str, month: str | None) -> None:
    assert find_month(text, today) == month


@pytest.mark.parametrize(
    ("today", "day", "month", "expected"),
    [
        (WED, 15, 3, "2027-03-15"),  # eight months past → next year
        (WED, 1, 10, "2026-10-01"),  # two months past → this year
        (WED, 24, 9, "2027-09-24"),  # just over two months past → next year
        (date(2027, 1, 5), 28, 12, "2026-12-28"),  # a week ago, across the new year
        (date(2027, 1, 5), 10, 1, "2027-01-10"),
        (YEAR_END, 15, 1, "2027-01-15"),
    ],
)
def test_year_rule_for_day_and_month(today: date, day: int, month: int, expected: str) -> None:
    assert resolve_day_month(day, month, today) == d(expected)


def test_year_rule_for_named_month() -> None:
    assert resolve_month(12, date(2027, 1, 5)).month == "2026-12"
    assert resolve_month(3, WED).month == "2027-03"
    assert resolve_month(9, WED).month == "2026-09"
    assert resolve_month(8, WED).month == "2027-08"
    assert resolve_day_month(31, 2, WED) is None
    assert resolve_day_month(29, 2, WED, year=2027) is None


@pytest.fixture(scope="module")
def analyzer() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


WEEKDAYS = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]


@pytest.mark.parametrize(("weekday", "lemma"), list(enumerate(WEEKDAYS)))
def test_every_weekday_form_from_pymorphy3(
    analyzer: pymorphy3.MorphAnalyzer, weekday: int, lemma: str
) -> None:
    parse = next(p for p in analyzer.parse(lemma) if p.tag.POS == "NOUN")
    forms = {f.word.replace("ё", "е") for f in parse.lexeme}
    assert len(forms) >= 8
    for form in forms:
        found = find_date(f"в {form}", WED)
        assert found is not None, form
        assert found.kind is DateKind.WEEKDAY
        assert found.range.start.weekday() == weekday, form
        assert WED <= found.range.start <= date(2026, 12, 1)


MONTHS = "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь"


@pytest.mark.parametrize(("month", "lemma"), list(enumerate(MONTHS.split(), start=1)))
def test_every_month_form_from_pymorphy3(
    analyzer: pymorphy3.MorphAnalyzer, month: int, lemma: str
) -> None:
    parse = next(p for p in analyzer.parse(lemma) if p.tag.POS == "NOUN")
    forms = {f.word.replace("ё", "е") for f in parse.lexeme if f.tag.number == "sing"}
    assert len(forms) >= 5
    for form in forms:
        found = find_date(f"в {form}", WED)
        assert found is not None, form
        assert (found.kind, found.range.start.month, found.range.start.day) == (
            DateKind.MONTH,
            month,
            1,
        ), form
        day = find_date(f"10 {form}", WED)
        assert day is not None, form
        assert (day.kind, day.range.start.month, day.range.start.day) == (
            DateKind.DAY_OF_MONTH,
            month,
            10,
        ), form
