"""Normalisation: corpus pairs, abbreviations, fillers, follow-ups, bad input (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.normalize import MAX_INPUT_CHARS, MAX_OUTPUT_CHARS, normalize, normalize_name
from bot.nlu.numbers import TokenKind

# The typed form and the Vosk form of a request normalise to the same text.
CORPUS = [
    ("Дома бригады 3", "дома бригады три", "дома бригады 3"),
    ("какие дома у третьей бригады", "какие дома у третьей бригады", "какие дома у 3 бригады"),
    ("Покажи дома 2-й бригады", "э покажи дома второй бригады", "покажи дома 2 бригады"),
    ("список домов бригады №5", "список домов бригады номер пять", "список домов бригады номер 5"),
    ("Бригада 4 — какие адреса?", "бригада четыре какие адреса", "бригада 4 какие адреса"),
    ("что убирает первая бригада", "что убирает первая бригада", "что убирает 1 бригада"),
    ("адреса бригады один", "адреса бригады один", "адреса бригады 1"),
    (
        "Сколько домов обслуживает вторая бригада?",
        "сколько домов обслуживает вторая бригада",
        "сколько домов обслуживает 2 бригада",
    ),
    ("сколько квартир всего", "ну сколько квартир всего", "сколько квартир всего"),
    (
        "сколько подъездов у 5 бригады",
        "сколько подъездов у пятой бригады",
        "сколько подъездов у 5 бригады",
    ),
    (
        "кол-во квартир у бригады 1",
        "количество квартир у бригады один",
        "количество квартир у бригады 1",
    ),
    ("ул. Ленина, д. 10", "улица ленина дом десять", "улица ленина дом 10"),
    (
        "Информация по дому Гагарина 5",
        "информация по дому гагарина пять",
        "информация по дому гагарина 5",
    ),
    ("Карла Маркса 123/1", "карла маркса сто двадцать три дробь один", "карла маркса 123/1"),
    ("проспект Мира 15 корпус 2", "проспект мира пятнадцать корпус два", "проспект мира 15к2"),
    (
        "Когда уборка на Набережной 5?",
        "когда уборка на набережной пять",
        "когда уборка на набережной 5",
    ),
    ("график по 8 Марта 21а", "график по восьмого марта двадцать один а", "график по 8 марта 21а"),
    ("график на 15 марта", "график на пятнадцатое марта", "график на 15 марта"),
    ("Дома УК Домовой", "дома у к домовой", "дома ук домовой"),
    ("с какими УК мы работаем", "с какими у к мы работаем", "с какими ук мы работаем"),
    ("Кто работает в пятой бригаде?", "кто работает в пятой бригаде", "кто работает в 5 бригаде"),
    ("состав бригады 2", "состав бригады два", "состав бригады 2"),
    (
        "бригадир 1 бригады телефон",
        "бригадир первой бригады телефон",
        "бригадир 1 бригады телефон",
    ),
    ("Кто бригадир третьей бригады?", "кто бригадир третьей бригады", "кто бригадир 3 бригады"),
    ("Что ты умеешь?", "что ты умеешь", "что ты умеешь"),
    ("Привет!", "привет", "привет"),
]


@pytest.mark.parametrize(("typed", "vosk", "expected"), CORPUS)
def test_typed_and_vosk_forms_meet(typed: str, vosk: str, expected: str) -> None:
    assert normalize(typed).text == expected
    assert normalize(vosk).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ул. Ленина", "улица ленина"),
        ("ул.Ленина д.10 корп.2", "улица ленина дом 10к2"),
        ("ул Ленина", "улица ленина"),
        ("д. 10", "дом 10"),
        ("д 10", "дом 10"),
        ("дом 10 корп. 2", "дом 10к2"),
        ("15 к. 2", "15к2"),
        ("пр-т Мира 5", "проспект мира 5"),
        ("пр-кт Мира", "проспект мира"),
        ("просп. Мира", "проспект мира"),
        ("пер. Тихий", "переулок тихий"),
        ("Грабцевское ш. 158", "грабцевское шоссе 158"),
        ("б-р Победы", "бульвар победы"),
        ("кол-во квартир", "количество квартир"),
        ("№5", "номер 5"),
        ("бригада № 5", "бригада номер 5"),
        ("Ст.Разина 5", "степана разина 5"),
        ("ст. Разина", "степана разина"),
        ("кв. 5", "квартира 5"),
        ("тел. Петровой", "телефон петровой"),
        ("Кондрово, Пушкина 78", "кондрово пушкина 78"),
        ("г. Калуга", "город калуга"),
        ("в 2026г.", "в 2026 год"),
        ("дом 5г.", "дом 5г"),
        ("задачи на 15.12", "задачи на 15 декабря"),
        ("задачи на 15.12.2026", "задачи на 15 декабря 2026"),
        ("задачи на 1.3.27", "задачи на 1 марта 2027"),
        ("задачи на 2026-12-15", "задачи на 15 декабря 2026"),
        ("дом 1.5", "дом 1 мая"),
        ("версия 3.14.15.9", "версия 3 14 15 9"),
        ("112 / 1", "112/1"),
        ("112/1", "112/1"),
        ("да/нет", "да нет"),
        ("дом 4 а, подъезд 2", "дом 4а подъезд 2"),
        ("дом 4 а подъезд 2", "дом 4 а подъезд 2"),
        ("21-а", "21а"),
        ("Какие дома у 3-й бригады?", "какие дома у 3 бригады"),
        ("5этаж", "5 этаж"),
        ("кто-нибудь", "кто нибудь"),
    ],
)
def test_abbreviations_and_typed_shapes(text: str, expected: str) -> None:
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ну задачи на завтра", "задачи на завтра"),
        ("э покажи дома", "покажи дома"),
        ("эээ дома бригады три", "дома бригады 3"),
        ("эм статистика", "статистика"),
        ("ммм статистика", "статистика"),
        ("короче задачи на завтра", "задачи на завтра"),
        ("задачи на завтра пожалуйста", "задачи на завтра"),
        ("слушай а сколько домов", "сколько домов"),
        ("подскажи телефон петровой", "телефон петровой"),
        ("скажи пожалуйста кто бригадир", "кто бригадир"),
        ("так сколько домов", "сколько домов"),
        ("вот список бригадиров", "список бригадиров"),
        # "так" and "вот" only at the start
        ("дома вот этой бригады", "дома вот этой бригады"),
        ("спасибо", "спасибо"),
    ],
)
def test_fillers_dropped(text: str, expected: str) -> None:
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected", "followup"),
    [
        ("а у пятой?", "у 5", True),
        ("А у 5-й?", "у 5", True),
        ("а телефон?", "телефон", True),
        ("а еще телефон", "телефон", True),
        ("и телефон", "телефон", True),
        ("еще задачи на завтра", "задачи на завтра", True),
        ("ну а у второй", "у 2", True),
        ("а", "", True),
        ("у пятой", "у 5", False),
        ("телефон петровой", "телефон петровой", False),
        ("дом 21 а", "дом 21а", False),
    ],
)
def test_followup_flag(text: str, expected: str, followup: bool) -> None:
    result = normalize(text)
    assert result.text == expected
    assert result.followup is followup


@pytest.mark.parametrize(
    ("text", "command", "expected"),
    [
        ("/help", "help", "help"),
        ("/start@AudioBot", "start", "start"),
        ("  /health", "health", "health"),
        ("help", None, "help"),
        ("дом 112/1", None, "дом 112/1"),
    ],
)
def test_command(text: str, command: str | None, expected: str) -> None:
    result = normalize(text)
    assert result.command == command
    assert result.text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   \n\t  ", ""),
        ("?!...", ""),
        ("😀😀 дом 5 🏠", "дом 5"),
        ("Дом\x00 5\x07", "дом 5"),
        ("дом\u200b5", "дом 5"),
        ("<b>дома</b> <i>бригады</i> 3", "дома бригады 3"),
        ("**дома** бригады _3_", "дома бригады 3"),
        ("[дома бригады 3](https://example.com/x)", "дома бригады 3"),
        ("дома https://example.com/a?b=c бригады 3", "дома бригады 3"),
        ("@audiobot дома бригады 3", "дома бригады 3"),
        ("дома &amp; бригады", "дома бригады"),
        ("ЖКС", "жкс"),
        ("Пpолетарская 112/1", "пролетарская 112/1"),  # Latin "p" inside a Cyrillic word
        ("hello world", "hello world"),
        ("мо\u0301ет Ёлка", "моет елка"),
        ("ＤＯＭ １２", "dom 12"),
        ("дом " + "9" * 5000, "дом " + "9" * 496),
    ],
)
def test_bad_and_odd_inputs(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_huge_input_is_capped_and_flagged() -> None:
    result = normalize("дома бригады три " * 1000)
    assert result.truncated
    assert len(result.text) <= MAX_OUTPUT_CHARS
    assert result.text.startswith("дома бригады 3 дома бригады 3")
    assert not normalize("дома бригады три").truncated


def test_output_cap_when_expansions_grow_the_text() -> None:
    result = normalize("№" * MAX_INPUT_CHARS)
    assert result.truncated
    assert len(result.text) <= MAX_OUTPUT_CHARS
    assert set(result.text.split()) == {"номер"}


def test_tokens_carry_number_metadata_and_spans() -> None:
    result = normalize("Ну, какие дома у третьей бригады?")
    assert result.text == "какие дома у 3 бригады"
    assert result.words == ("какие", "дома", "у", "третьей", "бригады")
    (number,) = result.numbers
    assert (number.kind, number.value, number.source) == (TokenKind.ORDINAL, 3, "третьей")
    assert result.words[number.start : number.end] == ("третьей",)
    assert str(result) == result.text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ст.Разина", "степана разина"),
        ("ул. 8 Марта", "улица 8 марта"),
        ("ООО «Жилкомсервис»", "ооо жилкомсервис"),
        ("Грабцевское шоссе", "грабцевское шоссе"),
        # request-only repairs do not touch names
        ("А-Строй", "а строй"),
        ("Ну и Ну", "ну и ну"),
    ],
)
def test_normalize_name(name: str, expected: str) -> None:
    assert normalize_name(name) == expected


_RUSSIANISH = st.text(
    alphabet=st.sampled_from(
        list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЕКМНОРСТ0123456789 .,-/№!?«»\"'()")
    ),
    max_size=600,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=2000), _RUSSIANISH))
def test_normalize_never_raises_and_is_bounded(text: str) -> None:
    result = normalize(text)
    assert isinstance(result.text, str)
    assert len(result.text) <= MAX_OUTPUT_CHARS
    assert result.text == " ".join(t.text for t in result.tokens)
    if len(text) > MAX_INPUT_CHARS:
        assert result.truncated
    for token in result.tokens:
        assert 0 <= token.start < token.end <= len(result.words)
        assert token.source == " ".join(result.words[token.start : token.end])


@settings(max_examples=200, deadline=None)
@given(_RUSSIANISH)
def test_output_alphabet(text: str) -> None:
    result = normalize(text)
    assert "ё" not in result.text
    assert result.text == result.text.strip()
    assert "  " not in result.text
    # Only letters, digits, spaces and the house-number slash survive.
    assert all(ch.isalnum() or ch in " /" for ch in result.text)


def test_a_dashed_span_of_days_is_a_range() -> None:
    assert normalize("что на 1-4 декабря у 5й").text == "что на с 1 по 4 декабря у 5"
    assert normalize("майская 12-4").text != normalize("майская с 12 по 4").text
