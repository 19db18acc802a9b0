"""Phonetic key and similarity: ASR confusions meet, different names stay apart."""

from __future__ import annotations

import pytest
from rapidfuzz import process

from bot.nlu.phonetic import phonetic_key, similarity


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ленина", "линина"),
        ("маяковского", "моя ковского"),
        ("маяковского", "маяковскава"),
        ("сидоренко", "сидоренка"),
        ("жилкомсервис", "жил ком сервис"),
        ("жилкомсервиса", "жил ком сервиса"),
        ("гагарина", "гагарена"),
        ("пятницу", "пятныцу"),
        ("бригады", "брига ды"),
        ("кирова", "кирово"),
        ("зеленая", "зелёная"),
        ("Ленина", "ЛЕНИНА"),
        ("дуб", "дуп"),  # final devoicing
        ("лодка", "лотка"),  # devoicing before a voiceless consonant
        ("касса", "каса"),  # doubled consonants
        ("подъезд", "подьезд"),  # ъ and ь both only iotate the next vowel
        ("честный", "чесный"),  # silent т in "стн"
    ],
)
def test_same_key(a: str, b: str) -> None:
    assert phonetic_key(a) == phonetic_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ленина", "калинина"),
        ("маяковского", "циолковского"),
        ("маяковская", "московская"),
        ("гагарина", "гагаринская"),
        ("пушкина", "пушкинская"),
        ("советская", "тверская"),
        ("иванов", "петров"),
        ("дом", "том"),  # voicing before a vowel is kept
    ],
)
def test_different_key(a: str, b: str) -> None:
    assert phonetic_key(a) != phonetic_key(b)


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("линина", "ленина"),
        ("моя ковского", "маяковского"),
        ("сидоренка", "сидоренко"),
        ("жил ком сервис", "жилкомсервис"),
        ("гагарена", "гагарина"),
        ("хрусталная", "хрустальная"),
        ("зиленая", "зеленая"),
    ],
)
def test_asr_confusions_score_in_the_accept_band(heard: str, meant: str) -> None:
    assert similarity(heard, meant) >= 90


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ленина", "калинина"),
        ("линина", "калинина"),
        ("маяковского", "циолковского"),
        ("советская", "тверская"),
        ("гагарина", "гагаринская"),
        ("ленина", "лермонтова"),
    ],
)
def test_different_names_stay_below_the_accept_band(a: str, b: str) -> None:
    assert similarity(a, b) < 90


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("линина", "ленина"),
        ("моя ковского", "маяковского"),
        ("маяковская", "маяковского"),
        ("сидоренка", "сидоренко"),
        ("жил ком сервиса", "жилкомсервиса"),
    ],
)
def test_best_candidate_among_lookalikes(query: str, expected: str) -> None:
    catalog = [
        "ленина",
        "калинина",
        "маяковского",
        "циолковского",
        "московская",
        "сидоренко",
        "сидорова",
        "жилкомсервиса",
        "жилстрой",
    ]
    best = process.extractOne(query, catalog, scorer=lambda a, b, **_: similarity(a, b))
    assert best is not None
    assert best[0] == expected


def test_similarity_is_symmetric_and_bounded() -> None:
    assert similarity("ленина", "линина") == similarity("линина", "ленина")
    assert similarity("ленина", "ленина") == 100
    assert similarity("", "") == 100
    assert 0 <= similarity("абв", "xyz") <= 100


@pytest.mark.parametrize("text", ["", "!!!", "😀", "a" * 10_000, "улица 8 марта"])
def test_key_never_fails(text: str) -> None:
    assert isinstance(phonetic_key(text), str)


def test_key_keeps_digits() -> None:
    assert phonetic_key("8 марта") != phonetic_key("9 марта")
