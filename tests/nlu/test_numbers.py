"""Number-word ITN: every CLDR spelling 0–1000 reads back, compounds, digit forms, ambiguity."""

from __future__ import annotations

import pytest

from bitrix.address import normalize_number
from bot.nlu.numbers import (
    HouseNumber,
    Token,
    TokenKind,
    cardinal_forms,
    default_lexicon,
    itn,
    ordinal_forms,
    parse_digit_word,
    parse_number,
)

CARD = TokenKind.CARDINAL
ORD = TokenKind.ORDINAL


def words(text: str) -> list[str]:
    return text.split()


def run(text: str) -> str:
    """ITN of a space-separated, already normalised string."""
    return " ".join(t.text for t in itn(text.split()))


def numbers(text: str) -> list[tuple[int | None, TokenKind]]:
    return [(t.value, t.kind) for t in itn(text.split()) if t.is_number]


def test_every_cldr_spelling_0_to_1000_reads_back() -> None:
    count = 0
    for n in range(1001):
        for phrase in cardinal_forms(n):
            assert parse_number(phrase) == (n, CARD), phrase
            count += 1
        for phrase in ordinal_forms(n):
            assert parse_number(phrase) == (n, ORD), phrase
            count += 1
    # The reference lexicon has about 17.5k phrases; a shrunken table would be a regression.
    assert count > 15_000


@pytest.mark.parametrize("n", [1001, 1200, 2026, 5000, 12_345, 21_000, 99_999, 123_456, 999_999])
def test_thousands_read_back(n: int) -> None:
    assert cardinal_forms(n)
    for phrase in cardinal_forms(n):
        assert parse_number(phrase) == (n, CARD), phrase
    # CLDR has no ordinal rule for some of these; those that exist must read back.
    for phrase in ordinal_forms(n):
        assert parse_number(phrase) == (n, ORD), phrase


# Every case and gender of the brigade ordinals 1–6, typed by hand (not from CLDR), including
# the "-ою/-ею" instrumental variants CLDR omits.
_HARD = words("ый ая ое ые ого ой ых ому ым ую ыми ом ою")
_STRESSED = words("ой ая ое ые ого ой ых ому ым ую ыми ом ою")
ORDINAL_FORMS_1_6 = {
    1: ["перв" + e for e in _HARD],
    2: ["втор" + e for e in _STRESSED],
    3: words(
        "третий третья третье третьи третьего третьей третьих третьему третьим третью "
        "третьими третьем третьею"
    ),
    4: ["четверт" + e for e in _HARD] + ["четвёртой", "четвёртому"],
    5: ["пят" + e for e in _HARD],
    6: ["шест" + e for e in _STRESSED],
}


@pytest.mark.parametrize(
    ("word", "value"), [(w, n) for n, forms in ORDINAL_FORMS_1_6.items() for w in forms]
)
def test_brigade_ordinals_every_form(word: str, value: int) -> None:
    assert parse_number(word.replace("ё", "е")) == (value, ORD)


CARDINAL_FORMS_1_6 = {
    1: words("один одна одно одного одной одному одним одном одну"),
    2: words("два две двух двум двумя"),
    3: words("три трех трем тремя"),
    4: words("четыре четырех четырем четырьмя"),
    5: words("пять пяти пятью"),
    6: words("шесть шести шестью"),
}


@pytest.mark.parametrize(
    ("word", "value"), [(w, n) for n, forms in CARDINAL_FORMS_1_6.items() for w in forms]
)
def test_brigade_cardinals_every_form(word: str, value: int) -> None:
    assert parse_number(word) == (value, CARD)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # house-number compounds
        ("три", "3"),
        ("третьей", "3"),
        ("двадцать пять", "25"),
        ("десятый", "10"),
        ("сто двадцать три дробь один", "123/1"),
        ("дом пятнадцать корпус два", "дом 15к2"),
        ("какие дома у третьей бригады", "какие дома у 3 бригады"),
        ("сколько домов обслуживает вторая бригада", "сколько домов обслуживает 2 бригада"),
        ("двадцать первого марта", "21 марта"),
        # spoken forms (after normalisation)
        ("дома бригады 3", "дома бригады 3"),
        ("дома третьей бригады", "дома 3 бригады"),
        ("кто работает в пятой бригаде", "кто работает в 5 бригаде"),
        ("график уборки на улице ленина дом десять", "график уборки на улице ленина дом 10"),
        ("график уборки на улице ленина дом 10", "график уборки на улице ленина дом 10"),
        ("дом сто двадцать три", "дом 123"),
        ("дома бригады три", "дома бригады 3"),
        ("дома бригады трех", "дома бригады 3"),
        ("дома бригады номер три", "дома бригады номер 3"),
        ("дома третий бригады", "дома 3 бригады"),
        ("дома бригады 7", "дома бригады 7"),
        ("дом пятнадцать корпус два", "дом 15к2"),
        # CLDR quirks
        ("третьему", "3"),
        ("ста двадцати трех", "123"),
        ("ста двадцать трех", "123"),
        # compounds from the task
        ("сто двенадцать дробь один", "112/1"),
        ("пятнадцать корпус два", "15к2"),
        ("двадцать один а", "21а"),
        ("4 а", "4а"),
        ("112 / 1", "112/1"),
        ("дом 5 строение 2", "дом 5с2"),
        ("двадцать один а корпус два", "21к2а"),
        ("дом 5 б", "дом 5б"),
        ("дом пять бэ", "дом 5б"),
        ("дом 15 к 2", "дом 15к2"),
        # numbers side by side stay apart; order matters
        ("двадцать пять тридцать", "25 30"),
        ("три четыре", "3 4"),
        ("сто одиннадцать", "111"),
        ("две тысячи двадцать шестого года", "2026 года"),
        ("тысяча двести", "1200"),
        ("2 тысячи", "2000"),
        ("нулевой", "0"),
        ("ноль", "0"),
    ],
)
def test_itn_table(text: str, expected: str) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "а" is a conjunction and "в" a preposition: no gluing before a word.
        ("дом 5 а когда уборка", "дом 5 а когда уборка"),
        ("дом 5 в пятницу", "дом 5 в пятницу"),
        ("дом 5 в", "дом 5в"),
        ("дом 5 а корпус 2", "дом 5к2а"),
        ("дом 5 а 3 подъезд", "дом 5а 3 подъезд"),
        # "к" is a preposition for spoken numbers
        ("к пяти часам", "к 5 часам"),
        ("пятнадцать к два", "15 к 2"),
        ("бригада 3 к 5 числу", "бригада 3 к 5 числу"),
        # "дробь" without a number after it stays a word
        ("пять дробь", "5 дробь"),
        # an ordinal does not start a house number
        ("третий корпус два", "3 корпус 2"),
    ],
)
def test_letter_and_building_rules(text: str, expected: str) -> None:
    assert run(text) == expected


def test_letter_glued_at_punctuation_boundary() -> None:
    words = ["дом", "4", "а", "подъезд", "2"]
    glued = itn(words, boundaries=[False, False, True, False, False])
    assert [t.text for t in glued] == ["дом", "4а", "подъезд", "2"]
    apart = itn(words, boundaries=[False] * 5)
    assert [t.text for t in apart] == ["дом", "4", "а", "подъезд", "2"]


@pytest.mark.parametrize(
    ("word", "value", "kind"),
    [
        ("3-й", 3, ORD),
        ("3й", 3, ORD),
        ("2-ой", 2, ORD),
        ("5-я", 5, ORD),
        ("15-го", 15, ORD),
        ("15го", 15, ORD),
        ("1-ую", 1, ORD),
        ("5-м", 5, ORD),
        ("2-е", 2, ORD),
        ("10", 10, CARD),
        ("21а", 21, TokenKind.HOUSE),
        ("21-а", 21, TokenKind.HOUSE),
        ("15к2", 15, TokenKind.HOUSE),
        ("112/1", 112, TokenKind.HOUSE),
        ("10к1с2", 10, TokenKind.HOUSE),
    ],
)
def test_digit_words(word: str, value: int, kind: TokenKind) -> None:
    parsed = parse_digit_word(word)
    assert parsed is not None
    assert parsed[:2] == (value, kind)


@pytest.mark.parametrize("word", ["5м", "5е", "5этаж", "abc", "5ак2б", "1" * 5000, "٣"])
def test_digit_words_rejected(word: str) -> None:
    assert parse_digit_word(word) is None


@pytest.mark.parametrize("text", ["21а", "15к2", "112/1", "4б", "112/1а"])
def test_house_text_matches_bitrix_canonical_form(text: str) -> None:
    (token,) = itn([text])
    assert token.house is not None
    assert token.text == normalize_number(text)


def test_structure_matches_bitrix_canonical_form() -> None:
    (token,) = itn(words("10 корпус 1 строение 2"))
    assert token.text == normalize_number("10 корп. 1 стр. 2") == "10к1с2"


def test_house_parts() -> None:
    (token,) = itn(words("сто двенадцать дробь один"))
    assert token.house == HouseNumber(112, fraction=1)
    (token,) = itn(words("пятнадцать корпус два"))
    assert token.house == HouseNumber(15, building=2)
    (token,) = itn(words("двадцать один а"))
    assert token.house == HouseNumber(21, letter="а")


def test_tokens_keep_kind_value_and_source_span() -> None:
    tokens = itn(words("дом сто двенадцать дробь один у третьей бригады"))
    assert tokens == [
        Token("дом", TokenKind.WORD, 0, 1, "дом"),
        Token(
            "112/1",
            TokenKind.HOUSE,
            1,
            5,
            "сто двенадцать дробь один",
            112,
            HouseNumber(112, fraction=1),
        ),
        Token("у", TokenKind.WORD, 5, 6, "у"),
        Token("3", TokenKind.ORDINAL, 6, 7, "третьей", 3),
        Token("бригады", TokenKind.WORD, 7, 8, "бригады"),
    ]


def test_first_brigade_is_ordinal_and_one_house_is_cardinal() -> None:
    assert numbers("первая бригада") == [(1, ORD)]
    assert numbers("один дом") == [(1, CARD)]


def test_pronoun_like_one_is_flagged() -> None:
    (one,) = [t for t in itn(words("адреса бригады один")) if t.is_number]
    assert one.ambiguous
    (twenty_one,) = [t for t in itn(words("двадцать один")) if t.is_number]
    assert not twenty_one.ambiguous
    (first,) = [t for t in itn(words("первая")) if t.is_number]
    assert not first.ambiguous
    assert run("одни проблемы") == "одни проблемы"
    assert run("одних") == "одних"


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("тройка", 3),
        ("тройки", 3),
        ("тройку", 3),
        ("тройкой", 3),
        ("пятерка", 5),
        ("пятерке", 5),
        ("двойка", 2),
        ("шестерка", 6),
        ("четверок", 4),
    ],
)
def test_colloquial_brigade_numbers(word: str, value: int) -> None:
    assert parse_number(word) == (value, TokenKind.NOUN)


@pytest.mark.parametrize("text", ["", "дом", "сто дом", "21а", "три четыре", "тысяча"])
def test_parse_number_needs_exactly_one_number(text: str) -> None:
    expected = {"тысяча": (1000, CARD)}.get(text)
    assert parse_number(text) == expected


def test_lexicon_is_built_once() -> None:
    assert default_lexicon() is default_lexicon()
    assert "третьему" in default_lexicon().words
    assert "третьому" not in default_lexicon().words
