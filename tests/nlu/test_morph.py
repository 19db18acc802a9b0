"""Morphology: case forms of every street of the demo company, surnames, companies, positions,
number agreement and pymorphy3's lemma traps."""

from __future__ import annotations

import pytest

from bot.nlu.morph import Gender, Morph, company_core, default_morph


@pytest.fixture(scope="module")
def morph() -> Morph:
    return Morph()


def _adj(stem: str) -> set[str]:
    """Singular feminine adjective forms: "пролетарск" → пролетарская, пролетарской, …"""
    return {stem + e for e in ("ая", "ой", "ую", "ою")}


# Every street of the real portal, plus type words.
STREETS: list[tuple[str, set[str]]] = [
    ("Пролетарская", _adj("пролетарск")),
    ("Никитиной", {"никитиной"}),
    ("Московская", _adj("московск")),
    ("Билибина", {"билибина"}),
    ("Суворова", {"суворова"}),
    ("Зеленая", _adj("зелен")),
    ("Зелёная", _adj("зелен")),
    ("Телевизионная", _adj("телевизионн")),
    ("Карачевская", _adj("карачевск")),
    ("Майская", _adj("майск")),
    ("Чижевского", {"чижевского"}),
    ("Энгельса", {"энгельса"}),
    ("Ст.Разина", {"степана разина"}),
    ("Малоярославецкая", _adj("малоярославецк")),
    ("Жукова", {"жукова"}),
    ("Хрустальная", _adj("хрустальн")),
    ("Гвардейская", _adj("гвардейск")),
    (
        "Грабцевское шоссе",
        {
            "грабцевское шоссе",
            "грабцевского шоссе",
            "грабцевскому шоссе",
            "грабцевским шоссе",
            "грабцевском шоссе",
            "грабцевское",
            "грабцевского",
            "грабцевскому",
            "грабцевским",
            "грабцевском",
        },
    ),
    ("Кирова", {"кирова"}),
    ("Ленина", {"ленина"}),
    # a town, not a street, but "в Кондрове" is said too
    ("Кондрово", {"кондрово", "кондрова", "кондрову", "кондровом", "кондрове"}),
    (
        "проспект Мира",
        {
            "проспект мира",
            "проспекта мира",
            "проспекту мира",
            "проспектом мира",
            "проспекте мира",
            "мира",
        },
    ),
    (
        "улица 8 Марта",
        {
            "улица 8 марта",
            "улицы 8 марта",
            "улице 8 марта",
            "улицу 8 марта",
            "улицей 8 марта",
            "улицею 8 марта",
            "8 марта",
        },
    ),
    ("Набережная", _adj("набережн")),
]


@pytest.mark.parametrize(("name", "expected"), STREETS)
def test_street_forms(morph: Morph, name: str, expected: set[str]) -> None:
    assert morph.street_forms(name) == expected


def test_adjectival_street_with_type_word(morph: Morph) -> None:
    forms = morph.street_forms("Садовая улица")
    assert {"садовая улица", "садовой улицы", "садовую улицу", "садовой", "садовую"} <= forms
    assert "садовая улицы" not in forms  # cases agree


# A dozen surnames: (surname, gender, exact forms)
SURNAMES: list[tuple[str, Gender | None, set[str]]] = [
    ("Иванов", None, {"иванов", "иванова", "иванову", "ивановым", "иванове"}),
    ("Петрова", None, {"петрова", "петровой", "петрову", "петровою"}),
    ("Петрова", "f", {"петрова", "петровой", "петрову", "петровою"}),
    ("Иванова", "f", {"иванова", "ивановой", "иванову", "ивановою"}),
    ("Смирнова", None, {"смирнова", "смирновой", "смирнову", "смирновою"}),
    ("Кузнецов", None, {"кузнецов", "кузнецова", "кузнецову", "кузнецовым", "кузнецове"}),
    ("Лебедев", None, {"лебедев", "лебедева", "лебедеву", "лебедевым", "лебедеве"}),
    ("Сидоренко", None, {"сидоренко"}),
    ("Сидоренко", "f", {"сидоренко"}),
    ("Шевчук", "f", {"шевчук"}),
    ("Шевчук", "m", {"шевчук", "шевчука", "шевчуку", "шевчуком", "шевчуке"}),
    ("Черных", None, {"черных"}),
    ("Толстая", None, {"толстая", "толстой", "толстую", "толстою"}),
    ("Чижевская", None, {"чижевская", "чижевской", "чижевскую", "чижевскою"}),
    ("Чижевский", None, {"чижевский", "чижевского", "чижевскому", "чижевским", "чижевском"}),
    ("Мельник", "m", {"мельник", "мельника", "мельнику", "мельником", "мельнике"}),
    ("Мельник", "f", {"мельник"}),
    ("Ковальчук", "f", {"ковальчук"}),
    (
        "Петров-Водкин",
        "m",
        {
            "петров-водкин",
            "петрова-водкина",
            "петрову-водкину",
            "петровым-водкиным",
            "петрове-водкине",
        },
    ),
]


@pytest.mark.parametrize(("surname", "gender", "expected"), SURNAMES)
def test_surname_forms(
    morph: Morph, surname: str, gender: Gender | None, expected: set[str]
) -> None:
    assert morph.surname_forms(surname, gender) == expected


def test_surname_of_both_genders_gives_both(morph: Morph) -> None:
    # "Шевчук" alone may be a man or a woman: the man's forms are included.
    assert "шевчука" in morph.surname_forms("Шевчук")


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("ООО «УК Жилкомсервис»", "Жилкомсервис"),
        ('ООО "Наш Дом"', "Наш Дом"),
        ("ООО УК Уютный дом", "Уютный дом"),
        ("УК Домовой", "Домовой"),
        ("ЖКС", "ЖКС"),
    ],
)
def test_company_core(name: str, core: str) -> None:
    assert company_core(name) == core


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "ООО «УК Жилкомсервис»",
            {
                "жилкомсервис",
                "жилкомсервиса",
                "жилкомсервису",
                "жилкомсервисом",
                "жилкомсервисе",
                "ооо ук жилкомсервис",
            },
        ),
        (
            'ООО "Наш Дом"',
            {"наш дом", "нашего дома", "нашему дому", "нашим домом", "нашем доме", "ооо наш дом"},
        ),
        ("ЖКС", {"жкс"}),
    ],
)
def test_company_forms(morph: Morph, name: str, expected: set[str]) -> None:
    assert morph.company_forms(name) == expected


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (
            "уборщица",
            {
                "уборщица",
                "уборщицы",
                "уборщице",
                "уборщицу",
                "уборщицей",
                "уборщицею",
                "уборщиц",
                "уборщицам",
                "уборщицами",
                "уборщицах",
            },
        ),
        (
            "бригадир",
            {
                "бригадир",
                "бригадира",
                "бригадиру",
                "бригадиром",
                "бригадире",
                "бригадиры",
                "бригадиров",
                "бригадирам",
                "бригадирами",
                "бригадирах",
            },
        ),
        (
            "главный инженер",
            {
                "главный инженер",
                "главного инженера",
                "главному инженеру",
                "главным инженером",
                "главном инженере",
                "главные инженеры",
                "главных инженеров",
                "главным инженерам",
                "главными инженерами",
                "главных инженерах",
            },
        ),
        (
            "менеджер по продажам",
            {
                "менеджер по продажам",
                "менеджера по продажам",
                "менеджеру по продажам",
                "менеджером по продажам",
                "менеджере по продажам",
                "менеджеры по продажам",
                "менеджеров по продажам",
                "менеджерам по продажам",
                "менеджерами по продажам",
                "менеджерах по продажам",
            },
        ),
    ],
)
def test_position_forms(morph: Morph, position: str, expected: set[str]) -> None:
    assert morph.position_forms(position) == expected


NOUNS = ["дом", "квартира", "подъезд", "этаж", "человек", "сотрудник", "задача"]
NOUNS += ["событие", "бригада", "компания", "управляющая компания"]
_ONE = "дом квартира подъезд этаж человек сотрудник задача событие бригада компания"
_FEW = "дома квартиры подъезда этажа человека сотрудника задачи события бригады компании"
_MANY = "домов квартир подъездов этажей человек сотрудников задач событий бригад компаний"
AGREEMENT = {
    # n: forms of NOUNS in order ("|" before the two-word noun)
    0: _MANY + "|управляющих компаний",
    1: _ONE + "|управляющая компания",
    2: _FEW + "|управляющие компании",
    5: _MANY + "|управляющих компаний",
    11: _MANY + "|управляющих компаний",
    12: _MANY + "|управляющих компаний",
    21: _ONE + "|управляющая компания",
    22: _FEW + "|управляющие компании",
    25: _MANY + "|управляющих компаний",
    101: _ONE + "|управляющая компания",
    111: _MANY + "|управляющих компаний",
}


@pytest.mark.parametrize(("n", "forms"), list(AGREEMENT.items()))
def test_agree_table(morph: Morph, n: int, forms: str) -> None:
    single, multi = forms.split("|")
    expected = [*single.split(), multi]
    assert [morph.plural(n, noun) for noun in NOUNS] == expected
    assert [morph.agree(n, noun) for noun in NOUNS] == [f"{n} {f}" for f in expected]


@pytest.mark.parametrize(
    ("word", "lemma"),
    [
        ("бригады", "бригада"),
        ("домов", "дом"),
        ("уборщиц", "уборщица"),
        ("ленина", "ленин"),  # the trap: never lemmatise a street query
        ("петровой", "петров"),
        ("зелёной", "зеленый"),
    ],
)
def test_lemma(morph: Morph, word: str, lemma: str) -> None:
    assert morph.lemma(word) == lemma


def test_lemmas_keep_ambiguity(morph: Morph) -> None:
    assert {"иванов"} <= morph.lemmas("иванова")
    assert {"дом"} <= morph.lemmas("дома")
    assert morph.lemmas("qwerty") == {"qwerty"}


def test_parse_is_cached(morph: Morph) -> None:
    assert morph.parse("бригада") is morph.parse("Бригада")


def test_default_morph_is_shared() -> None:
    assert default_morph() is default_morph()


@pytest.mark.parametrize("text", ["", "   ", "!!!", "123"])
def test_odd_inputs(morph: Morph, text: str) -> None:
    assert morph.street_forms(text) <= {"123"}
    assert morph.surname_forms(text) <= {"123", "!!!"}
    assert morph.position_forms(text) <= {"123"}
