"""Unit tests of the emulator's PHP semantics, filters, paging math, limiters and fixtures."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bitrix.portal import deals_store, sample_store, tasks_store, users_store
from bitrix.portal.limits import LeakyBucket, ManualClock, OperatingMeter
from bitrix.portal.query import (
    Condition,
    cdb_page,
    condition_matches,
    orm_page,
    php_intval,
    php_string,
    php_truthy,
    split_operator,
)

from .conftest import TODAY

MSK = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        ("false", True),
        ("0", False),
        ("", False),
        ("N", True),
        (0, False),
        ("0.0", True),
        ([], False),
        ([0], True),
        (None, False),
    ],
)
def test_php_truthiness(value: Any, truthy: bool) -> None:
    assert php_truthy(value) is truthy


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("12abc", 12),
        ("abc", 0),
        (" 7", 7),
        ("-3", -3),
        ("4.9", 4),
        (True, 1),
        (None, 0),
        ([1], 1),
        ("1e3", 1000),
    ],
)
def test_php_intval(value: Any, number: int) -> None:
    assert php_intval(value) == number


def test_php_string_cast() -> None:
    assert [php_string(v) for v in (None, False, True, 3, 2.0, [1], "x")] == [
        "",
        "",
        "1",
        "3",
        "2",
        "Array",
        "x",
    ]


@pytest.mark.parametrize(
    ("key", "split"),
    [
        (">=ID", (">=", "ID")),
        ("!@ID", ("!@", "ID")),
        ("!ID", ("!", "ID")),
        ("%TITLE", ("%", "TITLE")),
        ("ID", ("=", "ID")),
        (">", ("=", ">")),
    ],
)
def test_split_operator(key: str, split: tuple[str, str]) -> None:
    assert split_operator(key) == split


@pytest.mark.parametrize(
    ("record_value", "op", "value", "matches"),
    [
        ("10", ">", "9", True),  # Numbers compare as numbers.
        ("abc", ">", "abd", False),
        ("Пролетарская", "=", "пролетарская", True),  # Case-insensitive collation.
        (None, "!=", "5", True),
        (None, ">", "5", False),
        (["1", "2"], "=", "2", True),  # Any value of a multiple field.
        (["1", "2"], "!", "2", False),
        ([], "=", "", True),
        (True, "=", "1", True),  # A stored boolean is 1/0.
        (False, "=", 0, True),
        ("2026-03-16T10:00:00+03:00", "<", "16.03.2026 11:00", True),
        ("2026-03-16T10:00:00+03:00", ">=", "2026-03-16", True),
        ("Зеленая 9", "=%", "зел%", True),
        ("Зеленая 9", "%=", "_еленая _", True),
        ("Зеленая 9", "!%", "лен", False),
        ("5", "@", "1,5,9", True),
        ("5", "@", [], False),
        ("5", "!@", [], True),
        ("x", "%", "", True),  # An empty LIKE restricts nothing.
    ],
)
def test_condition_matching(record_value: Any, op: str, value: Any, matches: bool) -> None:
    assert condition_matches(record_value, Condition("F", op, value), MSK) is matches


def rows(n: int) -> list[dict[str, Any]]:
    return [{"ID": str(i)} for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("n", "start", "expected"),
    [
        (120, 0, ("1", 50, 120, 50)),
        (120, 75, ("76", 45, 120, None)),
        (120, -1, ("1", 50, 0, None)),
        (120, -7, ("1", 50, 0, None)),
        (0, 0, (None, 0, 0, None)),
    ],
)
def test_orm_page(n: int, start: int, expected: tuple[str | None, int, int, int | None]) -> None:
    page = orm_page(rows(n), start)
    first = page.items[0]["ID"] if page.items else None
    assert (first, len(page.items), page.total, page.next) == expected


@pytest.mark.parametrize(
    ("n", "start", "first", "size", "next_"),
    [
        (120, 0, "1", 50, 50),
        (120, 49, "1", 50, 50),
        (120, 75, "51", 50, 100),
        (120, 100, "101", 20, None),
        (120, 999, "101", 20, None),
        (0, 0, None, 0, None),
    ],
)
def test_cdb_page(n: int, start: int, first: str | None, size: int, next_: int | None) -> None:
    page = cdb_page(rows(n), start)
    assert (
        page.items[0]["ID"] if page.items else None,
        len(page.items),
        page.total,
        page.next,
    ) == (first, size, n, next_)


def test_leaky_bucket() -> None:
    clock = ManualClock(100.0)
    bucket = LeakyBucket()
    assert [bucket.admit(clock(), 2.0, 3) for _ in range(4)] == [True, True, True, False]
    clock.advance(1.0)
    assert bucket.level(clock(), 2.0) == 1.0
    assert [bucket.admit(clock(), 2.0, 3) for _ in range(3)] == [True, True, False]


def test_operating_meter_window() -> None:
    meter = OperatingMeter()
    meter.charge("m", 1000.0, 2.0)
    meter.charge("m", 1300.0, 1.5)
    meter.charge("other", 1300.0, 9.0)
    assert meter.used("m", 1300.0) == 3.5
    assert meter.reset_at("m", 1300.0) == 1600
    assert meter.used("m", 1600.0) == 1.5
    assert meter.reset_at("m", 1600.0) == 1900
    assert meter.reset_at("m", 1900.0) is None
    assert meter.used("other", 1800.0) == 9.0


def test_sample_store_has_the_cases_tests_need() -> None:
    store = sample_store(TODAY)
    users = store.users.values()
    assert any(u["ACTIVE"] is False for u in users)
    assert any("PERSONAL_MOBILE" not in u for u in users if u["WORK_POSITION"])
    assert all(isinstance(d, int) for u in users for d in u["UF_DEPARTMENT"])
    assert {d["NAME"] for d in store.departments.values()} >= {"Офис", "Бригада 1", "Бригада 2"}
    assert "PARENT" not in store.departments[1]
    assert sum("UF_HEAD" in d for d in store.departments.values()) == 4
    assert {d["CATEGORY_ID"] for d in store.deals.values()} == {"0", "34"}
    assert all(
        isinstance(v, str) or v is None
        for d in store.deals.values()
        for k, v in d.items()
        if not k.startswith("UF_")
    )
    assert store.clone() == store and store.clone() is not store


def test_generated_stores_have_exactly_n_rows() -> None:
    assert list(deals_store(7, today=TODAY).deals) == list(range(1, 8))
    assert len(users_store(60, today=TODAY).users) == 60
    assert len(tasks_store(61, today=TODAY).tasks) == 61
    assert users_store(1, today=TODAY).users[1]["NAME"] == "Сергей"
