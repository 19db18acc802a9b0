"""`audiobot ask --as WHO`: «мои …» answered for an employee without Telegram (docs/intents.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bitrix.demo import build_demo_store
from tests.cli.test_checks import TODAY, Run, clean_environment, run

__all__ = ["clean_environment"]  # the autouse fixture: no .env, DEMO_DATE pinned


def _answers(result: Run) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def brigade_member() -> tuple[dict[str, object], int]:
    """A demo employee in a brigade department with a surname no one else has."""
    store = build_demo_store(TODAY)
    brigades = {
        int(d["ID"]): int(str(d["NAME"]).split()[-1])
        for d in store.departments.values()
        if str(d["NAME"]).startswith("Бригада ")
    }
    surnames: dict[str, int] = {}
    for user in store.users.values():
        surnames[str(user.get("LAST_NAME"))] = surnames.get(str(user.get("LAST_NAME")), 0) + 1
    for user in sorted(store.users.values(), key=lambda u: int(u["ID"])):
        departments = [d for d in user.get("UF_DEPARTMENT", []) if d in brigades]
        if user.get("ACTIVE") is True and departments and surnames[str(user["LAST_NAME"])] == 1:
            return user, brigades[departments[0]]
    raise AssertionError("no brigade member with a unique surname")


def test_ask_as_resolves_mine_to_the_employee(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    brigade_member: tuple[dict[str, object], int],
) -> None:
    user, brigade = brigade_member
    requests = ("мои задачи", "мои дома", "у нас в бригаде кто", "что у меня завтра")
    result = run(capsys, "ask", "--json", "--as", str(user["LAST_NAME"]), *requests)
    assert result.code == 0, result.err
    tasks, houses, people, tomorrow = _answers(result)
    assert tasks["intent"] == "tasks.list"
    person = tasks["slots"]["person"]
    assert person["id"] == str(user["ID"])
    assert str(person["name"]).startswith(str(user["LAST_NAME"]))
    assert (houses["intent"], houses["slots"]) == ("houses.list", {"brigade": brigade})
    assert (people["intent"], people["slots"]) == ("employees.list", {"brigade": brigade})
    assert tomorrow["intent"] == "schedule.day"
    assert tomorrow["slots"]["brigade"] == brigade
    # By id as well; the text of each answer is what the bot would send.
    by_id = run(capsys, "ask", "--as", str(user["ID"]), "мои дома")
    assert by_id.out.startswith(f"Бригада {brigade}")
    assert not (tmp_path / "var" / "state.db").exists()  # asking never touches the store


def test_ask_without_as_is_told_how_to_sign_in(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "ask", "--json", "мои задачи")
    [answer] = _answers(result)
    assert "Поделиться номером" in str(answer["answer"]) and "--as" in str(answer["answer"])
    assert answer["slots"] == {}


def test_ask_as_someone_unknown_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "ask", "--as", "Несуществующий", "мои задачи")
    assert result.code == 2
    assert "Несуществующий" in result.err


def test_a_named_house_is_answered_whoever_says_mne(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(
        capsys,
        "ask",
        "--json",
        "где ключи на Майской 12? Мне туда завтра.",
        "мои задачи по майской 8",
    )
    keys, tasks = _answers(result)
    assert "Ключи у старшей по дому" in str(keys["answer"])
    assert "Поделиться номером" in str(tasks["answer"])  # «мои» tasks are never all the house's


def test_who_says_who_they_are_is_answered_for_that(capsys: pytest.CaptureFixture[str]) -> None:
    """«…, если я в пятой бригаде»: the asker's own words stand in for signing in; «мне
    сказали …» and «как мне связаться …» are no «mine» at all."""
    result = run(
        capsys,
        "ask",
        "--json",
        "А что мне завтра убирать, если я в пятой бригаде?",
        "мне завтра убирать?",
        "Подскажите, как мне связаться с Викторией из бригады?",
    )
    fifth, vague, viktoria = _answers(result)
    assert (fifth["intent"], fifth["slots"]["brigade"]) == ("schedule.day", 5)
    assert "Поделиться номером" in str(vague["answer"])  # nothing named: still asked to sign in
    assert viktoria["clarify"] is True  # two Викторий, asked which
