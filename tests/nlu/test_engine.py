"""Behaviour of the language engine beyond the corpus: context, questions, bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answers import AnswerBuilder
from bot.nlu.engine import LanguageEngine
from bot.nlu.frame import INTENTS, Frame
from tests.nlu.evaluation import TODAY


def understand(engine: LanguageEngine, *texts: str) -> Frame:
    previous = None
    for text in texts:
        previous = engine.understand(text, today=TODAY, previous=previous)
    assert previous is not None
    return previous


def test_follow_up_changes_the_brigade(engine: LanguageEngine) -> None:
    frame = understand(engine, "дома третьей бригады", "а у пятой?")
    assert (frame.intent, frame.slots_json()) == ("houses.list", {"brigade": 5})


def test_follow_up_asks_the_same_persons_phone(engine: LanguageEngine) -> None:
    frame = understand(engine, "кто такой Петров", "а телефон?")
    assert frame.intent == "employee.info"
    assert frame.slots_json()["field"] == "phone"
    assert frame.slots_json()["person"]["name"] == "Петров Дмитрий Олегович"


def test_follow_up_with_a_date_after_a_houses_list(engine: LanguageEngine) -> None:
    frame = understand(engine, "дома третьей бригады", "а завтра?")
    assert frame.intent == "schedule.day"
    assert frame.slots_json() == {"brigade": 3, "date": {"from": "2026-11-26", "to": "2026-11-26"}}


def test_a_new_question_does_not_inherit_context(engine: LanguageEngine) -> None:
    frame = understand(engine, "дома третьей бригады", "сколько квартир всего")
    assert frame.slots_json() == {"metric": "apartments"}


def test_namesakes_are_a_question_with_both_choices(
    engine: LanguageEngine, answers: AnswerBuilder
) -> None:
    frame = understand(engine, "телефон Ивановой")
    assert frame.clarify
    names = sorted(c.frame.slots["person"].full_name for c in frame.choices)
    assert names == ["Иванова Мария Анатольевна", "Иванова Ольга Андреевна"]
    chosen = answers.build(frame.choices[0].frame, TODAY)
    assert "телефон" in chosen.text


def test_a_house_in_two_towns_is_a_question(engine: LanguageEngine) -> None:
    frame = understand(engine, "ленина пять")
    assert frame.clarify
    assert sorted(c.label for c in frame.choices) == ["Кондрово, Ленина 5", "Ленина 5"]
    qualified = understand(engine, "кондрово ленина пять")
    assert qualified.slots_json()["house"]["address"] == "Кондрово, Ленина 5"


def test_a_number_that_exists_on_only_one_of_two_streets_is_not_a_question(
    engine: LanguageEngine,
) -> None:
    frame = understand(engine, "ленина семнадцать")
    assert not frame.clarify
    assert frame.slots_json()["house"]["address"] == "Ленина 17"


def test_a_missing_house_is_explained_with_what_exists(
    engine: LanguageEngine, answers: AnswerBuilder
) -> None:
    frame = understand(engine, "график Пролетарская 999")
    assert frame.problems and "house" not in frame.slots
    text = answers.build(frame, TODAY).text
    assert "нет в базе" in text and "Пролетарская" in text


def test_brigade_seven_is_explained(engine: LanguageEngine, answers: AnswerBuilder) -> None:
    frame = understand(engine, "дома бригады 7")
    assert frame.slots_json() == {"brigade": 7}
    assert answers.build(frame, TODAY).text == "Бригады 7 нет — бригад всего 6."


def test_misheard_words_are_repaired(engine: LanguageEngine) -> None:
    frame = understand(engine, "кто такой сидоренка")
    assert frame.slots_json()["person"]["name"] == "Сидоренко Анастасия Юрьевна"
    frame = understand(engine, "какие дома у жил ком сервиса")
    assert frame.slots_json()["company"]["name"] == "ООО УК «Жилкомсервис»"


def test_out_of_domain_with_domain_words_is_unknown(engine: LanguageEngine) -> None:
    for text in ("какая погода завтра", "сколько стоит уборка подъезда", "закажи пиццу"):
        assert understand(engine, text).intent == "unknown", text


HOSTILE = [
    "",
    "   ",
    "\x00\x01\x02",
    "🙂🙂🙂",
    "<b>дома</b> бригады 3 &amp; _x_",
    "SELECT * FROM deals; DROP TABLE",
    "дома " * 2500,
    "a" * 10_000,
    "ёЁ—–«»…№%$#@!",
]


def test_hostile_inputs_get_an_answer(engine: LanguageEngine, answers: AnswerBuilder) -> None:
    for text in HOSTILE:
        frame = engine.understand(text, today=TODAY)
        assert frame.intent in INTENTS
        assert answers.build(frame, TODAY).text.strip()


WORDS = ["бригады", "дома", "сколько", "ленина", "№", "завтра", "пятой", "дробь", "а", "\n"]


@pytest.mark.parametrize("text", ["AAA\U00017000", "телефон \U00017000петрова", "\U000e0001"])
def test_unnamed_code_points_are_understood(
    engine: LanguageEngine, answers: AnswerBuilder, text: str
) -> None:
    # Found by the property test below: pymorphy3 raised ValueError («no such name») on code
    # points Unicode leaves unnamed, so one odd character crashed the answer.
    _understood_and_answered(engine, answers, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=20),
            st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюя0123456789/-.,", max_size=12),
            st.sampled_from(WORDS),
        ),
        max_size=30,
    ).map(" ".join)
)
def test_any_text_is_understood_and_answered(
    engine: LanguageEngine, answers: AnswerBuilder, text: str
) -> None:
    _understood_and_answered(engine, answers, text)


def _understood_and_answered(engine: LanguageEngine, answers: AnswerBuilder, text: str) -> None:
    frame = engine.understand(text, today=TODAY)
    assert frame.intent in INTENTS
    assert answers.build(frame, TODAY).text.strip()


def test_slot_json_matches_the_spec_shapes(engine: LanguageEngine) -> None:
    frame = understand(engine, "задачи третьей бригады на завтра")
    assert frame.slots_json() == {
        "brigade": 3,
        "date": {"from": "2026-11-26", "to": "2026-11-26"},
    }
    frame = understand(engine, "дома УК Жилкомсервис на Московской")
    slots = frame.slots_json()
    assert set(slots) == {"company", "street"}
    assert set(slots["company"]) == {"id", "name"}
    assert slots["street"] == "Московская"


def test_a_crew_field_with_a_date_is_the_field_not_the_schedule(engine: LanguageEngine) -> None:
    frame = engine.understand("где ключи от подъезда на майской 12 завтра", today=TODAY)
    assert (frame.intent, frame.slots.get("field")) == ("house.info", "note")
    frame = engine.understand("когда уборка на майской 12 завтра", today=TODAY)
    assert frame.intent == "house.schedule"


def test_a_lacking_feature_no_filter_takes_is_reported(engine: LanguageEngine) -> None:
    frame = engine.understand("дома без графика у третьей бригады", today=TODAY)
    assert [p.said for p in frame.problems] == ["без графика"]
    assert not engine.understand("дома без ук", today=TODAY).problems


def test_a_bound_after_the_noun_is_a_bound(engine: LanguageEngine) -> None:
    """«200 квартир и больше» counts from 200, not exactly 200 (a different set)."""
    frame = engine.understand("сколько домов где 200 квартир и больше", today=TODAY)
    assert frame.slots_json()["apartments"] == {"min": 200, "max": None}


def test_a_name_said_longer_than_the_crm_one_is_not_found(engine: LanguageEngine) -> None:
    """«ук солнечная долина» is not «УК Солнечный»; «Ковалева Анна» is not Ковалева Любовь;
    «телефон Смирнова» asks about a man, and only a woman of that name works here."""
    frame = engine.understand("сколько домов у ук солнечная долина", today=TODAY)
    assert "company" not in frame.slots
    assert [(p.kind, p.near) for p in frame.problems] == [("company", ("ООО «УК Солнечный»",))]
    frame = engine.understand("кто такая ковалева анна", today=TODAY)
    assert "person" not in frame.slots
    assert [(p.kind, p.reason) for p in frame.problems] == [("person", "other_name")]
    frame = engine.understand("телефон смирнова", today=TODAY)
    assert frame.clarify and "person" not in frame.slots


def test_the_house_ranked_is_not_the_metric(engine: LanguageEngine) -> None:
    """«в каком доме больше всего квартир» ranks houses by apartments."""
    frame = engine.understand("в каком доме больше всего квартир", today=TODAY)
    assert (frame.intent, frame.slots_json()) == ("rank", {"metric": "apartments", "by": "house"})
    frame = engine.understand("какая бригада обслуживает дом ленина 62/3", today=TODAY)
    assert frame.intent == "house.info"


def test_a_counted_role_is_people_and_a_role_beside_a_name_describes_them(
    engine: LanguageEngine, answers: AnswerBuilder
) -> None:
    """«сколько бухгалтеров в компании» counts people; «у бригадира Петрова» is his houses."""
    frame = engine.understand("сколько бухгалтеров в компании", today=TODAY)
    assert frame.slots_json() == {"metric": "employees", "position": "Бухгалтер"}
    frame = engine.understand("сколько домов у бригадира петрова", today=TODAY)
    assert answers.build(frame, TODAY).text.startswith("Бригада 3 (бригадир Петров): ")
    frame = engine.understand("сколько всего бригад и кто в них бригадиры", today=TODAY)
    assert frame.intent == "departments.list"


def test_the_uk_of_a_named_house_is_that_company(engine: LanguageEngine) -> None:
    """«тел ук жукова 56/2» and «а тел ук» after a house ask for the house's own УК."""
    frame = engine.understand("тел ук жукова 56/2", today=TODAY)
    assert (frame.intent, frame.slots_json()["company"]["name"]) == (
        "company.info",
        "ООО «УК Солнечный»",
    )
    frame = understand(engine, "ст разина 72/2 коммент", "а тел ук")
    assert (frame.intent, frame.slots_json()["field"]) == ("company.info", "phone")
    assert frame.slots_json()["company"]["name"] == "ООО «УК Домовой»"


def test_a_street_the_company_does_not_serve_is_not_found(engine: LanguageEngine) -> None:
    """«улица Мира», «на Садовой» are ordinary words; dropping them would count every house."""
    for text, said in (
        ("сколько подъездов на улице мира", "мира"),
        ("сколько домов на садовой у первой бригады", "садовой"),
    ):
        frame = engine.understand(text, today=TODAY)
        assert [(p.kind, p.said) for p in frame.problems] == [("street", said)]
    for text in ("на какой улице больше всего квартир", "сколько домов на первой"):
        assert not engine.understand(text, today=TODAY).problems


def test_a_bare_number_with_lettered_variants_asks_which(engine: LanguageEngine) -> None:
    """«Майская 23» when only 23/2 and 23к1 exist is a question, never a guess or «no such»;
    a closed contract of that very number stays closed («Пролетарская 40», 40б is open)."""
    frame = engine.understand("когда убирают майскую двадцать три", today=TODAY)
    assert frame.clarify
    assert sorted(c.label for c in frame.choices) == ["Майская 23/2", "Майская 23к1"]
    closed = engine.understand("пролетарская 40", today=TODAY)
    assert not closed.clarify and [p.reason for p in closed.problems] == ["closed"]


def test_a_negated_condition_is_applied_or_reported(engine: LanguageEngine) -> None:
    """«где не указана УК» is the houses without one; «где не указан тип» is not every house."""
    frame = engine.understand("сколько домов где не указана управляющая компания", today=TODAY)
    assert frame.slots.get("no_company") is True and not frame.problems
    frame = engine.understand("сколько домов где не указан тип", today=TODAY)
    assert [p.kind for p in frame.problems] == ["feature"]
    polite = engine.understand("не подскажете, сколько у нас панельных домов", today=TODAY)
    assert not polite.problems


def test_statistics_of_a_filtered_set_count_that_set(
    engine: LanguageEngine, answers: AnswerBuilder
) -> None:
    """«сколько домов мы обслуживаем для УК Домовой» is that company's houses, not all 490."""
    said = "для отчёта нужно понять, сколько домов мы обслуживаем для ООО «УК Домовой»"
    frame = engine.understand(said, today=TODAY)
    text = answers.build(frame, TODAY).text
    company = frame.slots["company"]
    expected = len(engine.snapshot.houses_where(company_id=company.id))
    assert f"{expected}" in text and "УК Домовой" in text
    assert "490" not in text


def test_people_of_a_department_that_is_no_brigade(
    engine: LanguageEngine, answers: AnswerBuilder
) -> None:
    """SPEC §5: employees.list takes a `department`; «в офисе» is never everyone."""
    frame = engine.understand("кто работает в офисе", today=TODAY)
    assert (frame.intent, frame.slots_json()) == ("employees.list", {"department": "Офис"})
    office = next(d for d in engine.snapshot.departments.values() if d.name == "Офис")
    text = answers.build(frame, TODAY).text
    assert text.startswith(f"Офис: {office.size} ")
    count = engine.understand("сколько человек в офисе", today=TODAY)
    assert answers.build(count, TODAY).text == f"Сотрудников (Офис): {office.size}."
    brigade = engine.understand("я первую неделю работаю", today=TODAY)
    assert "brigade" not in brigade.slots  # «первую неделю» is no brigade
