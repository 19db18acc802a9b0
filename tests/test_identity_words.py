"""Phone numbers as the CRM holds them, and «мои …» resolved to the asker (no Telegram)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bitrix.models import Employee
from bitrix.phones import normalize_phone, phone_numbers
from bot.digest import is_due, next_run
from bot.selfref import find_self

MSK = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    "written",
    [
        "8 (910) 123-45-67",
        "+7 910 123 45 67",
        "+7(910)1234567",
        "89101234567",
        "79101234567",
        "8-910-123-45-67",
        "910 123-45-67",
        " +7 (910) 123-45-67 доб. 12",
    ],
)
def test_every_russian_form_is_one_number(written: str) -> None:
    assert normalize_phone(written) == "+79101234567"


def test_several_numbers_in_one_field() -> None:
    assert phone_numbers("8 (4842) 55-66-77; 8 (910) 123-45-67, +7 910 123-45-67", None) == (
        "+74842556677",
        "+79101234567",
    )
    assert phone_numbers("", "нет", "123", None) == ()


def _person(brigade: int | None) -> Employee:
    return Employee("91", "Петров", "Дмитрий", "", "Бригадир", ("7",), brigade, None, None, True)


@pytest.mark.parametrize(
    ("text", "kind", "rewritten"),
    [
        ("мои задачи", "person", "бригады 3 задачи"),
        ("что у меня завтра", "person", "что бригады 3 завтра"),
        ("у нас в бригаде кто", "brigade", "бригады 3 кто"),
        ("моя бригада", "brigade", "бригады 3"),
        ("сколько у нас домов", "brigade", "сколько бригады 3 домов"),
        ("сколько у нас домов всего", "", "сколько у нас домов всего"),
        ("покажи мне дома бригады 5", "", "покажи мне дома бригады 5"),
        ("дома бригады 2", "", "дома бригады 2"),
    ],
)
def test_self_words_are_rewritten_for_the_engine(text: str, kind: str, rewritten: str) -> None:
    ref = find_self(text, _person(3))
    assert (ref.kind, ref.text) == (kind, rewritten)


def test_without_an_asker_self_words_need_one_and_group_words_mean_the_company() -> None:
    assert find_self("мои задачи", None).needs_asker
    assert find_self("моя бригада", None).needs_asker
    assert not find_self("сколько у нас домов", None).needs_asker
    # Office staff: «у нас» is the whole company.
    assert not find_self("сколько у нас домов", _person(None)).needs_asker


def test_digest_times() -> None:
    at, days = time(7, 30), frozenset(range(6))
    wednesday = datetime(2026, 11, 25, 7, 0, tzinfo=MSK)
    assert next_run(wednesday, at, days) == datetime(2026, 11, 25, 7, 30, tzinfo=MSK)
    assert not is_due(wednesday, at, days)
    late = datetime(2026, 11, 25, 13, 0, tzinfo=MSK)
    assert is_due(late, at, days)  # started late: today's run is still due
    saturday = datetime(2026, 11, 28, 8, 0, tzinfo=MSK)
    assert next_run(saturday, at, days) == datetime(2026, 11, 30, 7, 30, tzinfo=MSK)
    assert not is_due(datetime(2026, 11, 29, 9, 0, tzinfo=MSK), at, days)  # Sunday
    assert next_run(wednesday, at, frozenset()) is None
    assert date(2026, 11, 30).weekday() == 0


def test_someone_in_no_brigade_gets_a_stand_in_for_the_engine_only() -> None:
    ref = find_self("мои дома", _person(None), stand_in=1)
    assert (ref.kind, ref.text, ref.brigade) == ("person", "бригады 1 дома", 1)
