"""Russian morphology for slot lists and answers, on pymorphy3 (cached).

People say catalog names in any case ("на Пролетарской", "у Жилкомсервиса", "телефон
Петровой"), so every name from Bitrix24 is expanded into its case forms once per sync and the
grammar matches those forms. All forms are lower case with ё
folded to е and numbers as digits, i.e. in the shape `bot.nlu.normalize.normalize` produces.

* `Morph.street_forms`: adjectival streets inflect ("Пролетарская" → пролетарской,
  пролетарскую, …; "Грабцевское шоссе" → грабцевского шоссе, …, also without the type word);
  genitive names stay as they are ("Чижевского", "Ленина", "Ст.Разина", "8 Марта").
* `Morph.surname_forms`: male and female declension ("Петрова" → петровой, петровою, …);
  indeclinable surnames stay ("Сидоренко"; "Шевчук" for a woman).
* `Morph.company_forms`: the name inside quotes, without the legal form ("ООО «УК
  Жилкомсервис»" → жилкомсервис, жилкомсервиса, …).
* `Morph.position_forms`: singular and plural in all cases ("уборщица" → уборщиц, уборщицам…).
* `Morph.lemma` and `Morph.agree` ("5 домов", "21 дом", "5 человек").

pymorphy3 traps: "ленина" lemmatises to "ленин", "иванова" is both the genitive of
Иванов and the female surname, "дома" is genitive singular or plural. Never lemmatise a query
to compare it with a non-lemmatised catalog; compare generated forms instead.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, Literal

import pymorphy3

from bot.nlu.normalize import normalize_name

__all__ = ["CASES", "Gender", "Morph", "company_core", "default_morph"]

#: The six grammatical cases, in pymorphy3's tags.
CASES: tuple[str, ...] = ("nomn", "gent", "datv", "accs", "ablt", "loct")

Gender = Literal["m", "f"]

_ADJ = frozenset({"ADJF", "PRTF"})
_NAME_TAGS = ("Surn", "Name", "Patr")
# Street-type words: they inflect as nouns, separately from a genitive name ("проспекта Мира").
_STREET_TYPES = frozenset(
    {
        "улица",
        "проспект",
        "переулок",
        "шоссе",
        "площадь",
        "бульвар",
        "проезд",
        "тупик",
        "микрорайон",
        "аллея",
        "тракт",
        "набережная",
        "квартал",
        "спуск",
        "въезд",
        "линия",
    }
)
_LEGAL_FORMS = frozenset(
    {
        "ооо",
        "оао",
        "зао",
        "пао",
        "ао",
        "ип",
        "мп",
        "муп",
        "гуп",
        "нко",
        "ук",
        "тсж",
        "жск",
        "тсн",
        "управляющая",
        "компания",
    }
)
_QUOTED = re.compile(r"[«\"„“”']([^«»\"„“”']+)[»\"“”']")
_FEMALE_SURNAME_ENDINGS = ("ова", "ева", "ёва", "ина", "ына", "ая")
_INDECLINABLE_ENDINGS = ("о", "е", "и", "у", "ю", "ых", "их")
# Counting form: pymorphy3 gives "5 людей"; Russian counts people as "5 человек".
_COUNT_FORMS = {("человек", "gent", "plur"): "человек"}


def _fold(word: str) -> str:
    return word.lower().replace("ё", "е")


def company_core(name: str) -> str:
    """The spoken core of a company name: the quoted part if any, else the name without
    leading legal forms ("ООО «УК Жилкомсервис»" → "УК Жилкомсервис" → "Жилкомсервис")."""
    quoted = _QUOTED.search(name)
    core = quoted.group(1) if quoted else name
    words = core.split()
    while len(words) > 1 and _fold(words[0]).strip(".,") in _LEGAL_FORMS:
        words = words[1:]
    return " ".join(words)


#: (count, noun) agreements remembered per `Morph` (a short string each).
_PLURAL_CACHE = 4096


class Morph:
    """Morphology service: parse cache, lemma, case forms and number agreement.

    Construct once and pass it where needed; the analyzer loads its dictionaries (about 30 MB,
    0.1 s) in the constructor unless one is passed in.
    """

    def __init__(self, analyzer: Any | None = None, cache_size: int = 50_000) -> None:
        self._analyzer: Any = analyzer if analyzer is not None else pymorphy3.MorphAnalyzer()
        self._parse: Callable[[str], tuple[Any, ...]] = functools.lru_cache(maxsize=cache_size)(
            self._parse_uncached
        )
        # Answers agree the same few nouns with the same counts again and again, and each
        # agreement walks the paradigm (inflect): the result depends on its arguments only.
        self._plural: Callable[[int, str], str] = functools.lru_cache(maxsize=_PLURAL_CACHE)(
            self._plural_uncached
        )

    def _parse_uncached(self, word: str) -> tuple[Any, ...]:
        try:
            return tuple(self._analyzer.parse(word))
        except ValueError:
            # pymorphy3 names each character with `unicodedata.name`, which raises for code
            # points Unicode leaves unnamed («AAA𗀀» from a Telegram message): parse the word
            # without them, so any text is still understood (an empty word parses as UNKN).
            named = "".join(ch for ch in word if unicodedata.name(ch, ""))
            return tuple(self._analyzer.parse(named))

    def parse(self, word: str) -> tuple[Any, ...]:
        """pymorphy3 parses of ``word`` (lower-cased, ё folded), best first; cached."""
        return self._parse(_fold(word))

    def lemma(self, word: str) -> str:
        """Normal form of the most likely parse, ё folded ("бригады" → "бригада").

        Beware: "ленина" → "ленин", "иванова" → "иванов" (see the module docstring).
        """
        parses = self.parse(word)
        return _fold(str(parses[0].normal_form)) if parses else _fold(word)

    def lemmas(self, word: str) -> frozenset[str]:
        """Normal forms of every parse ("иванова" → {"иванов", "иваново", …})."""
        return frozenset(_fold(str(p.normal_form)) for p in self.parse(word)) or frozenset(
            {_fold(word)}
        )

    # --- forms -------------------------------------------------------------------------------

    def _nominative(self, word: str, *, names: bool = True) -> Any | None:
        """The best nominative noun/adjective parse, or None."""
        for p in self.parse(word):
            if p.tag.case != "nomn" or p.tag.POS not in ("NOUN", *_ADJ):
                continue
            if not names and any(t in p.tag for t in _NAME_TAGS):
                continue
            return p
        return None

    @staticmethod
    def _case_forms(
        parse: Any, case: str, number: str, gender: str | None, animacy: str = "inan"
    ) -> frozenset[str]:
        """Forms of ``parse``'s lexeme in ``case``/``number`` (and ``gender`` for singular
        adjectives), including variants such as "-ою". Adjectives in the accusative follow the
        head noun's ``animacy`` ("главного инженера", "грабцевское шоссе")."""
        out = set()
        is_adj = parse.tag.POS in _ADJ
        for form in parse.lexeme:
            tag = form.tag
            if tag.case != case or tag.number != number:
                continue
            if is_adj:
                if tag.POS not in _ADJ or "Supr" in tag:
                    continue  # short forms, comparatives, superlatives share the lexeme
                if number == "sing" and gender and tag.gender != gender:
                    continue
                if case == "accs" and tag.animacy not in (None, animacy):
                    continue
            out.add(_fold(str(form.word)))
        return frozenset(out)

    def _agreement_group(self, words: list[str]) -> tuple[list[Any], int] | None:
        """Parses of the leading adjectives plus an optional head noun, all nominative, and
        the group's length; None when the phrase does not start with one."""
        parses: list[Any] = []
        for word in words:
            p = self._nominative(word)
            if p is None:
                break
            if p.tag.POS in _ADJ:
                parses.append(p)
                continue
            parses.append(p)
            break
        if not parses:
            return None
        return parses, len(parses)

    def phrase_forms(self, phrase: str, *, plural: bool = False) -> frozenset[str]:
        """Every case form of a noun phrase: leading adjectives and the head noun agree;
        words after the head stay fixed ("менеджер по продажам" → "менеджера по продажам").
        ``plural`` adds the plural forms. A phrase that does not start with a nominative noun
        or adjective comes back unchanged."""
        words = normalize_name(phrase).split()
        if not words:
            return frozenset()
        group = self._agreement_group(words)
        if group is None:
            return frozenset({" ".join(words)})
        parses, size = group
        head = parses[-1]
        gender = head.tag.gender if head.tag.POS == "NOUN" else None
        animacy = str(head.tag.animacy or "inan") if head.tag.POS == "NOUN" else "inan"
        rest = words[size:]
        out = {" ".join(words)}
        for number in ("sing", "plur") if plural else ("sing",):
            for case in CASES:
                options = [
                    self._case_forms(p, case, number, gender or p.tag.gender, animacy)
                    for p in parses
                ]
                for combo in itertools.product(*options):
                    out.add(" ".join([*combo, *rest]))
        return frozenset(out)

    def word_forms(self, word: str, *, plural: bool = True) -> frozenset[str]:
        """Every case form of one noun or adjective (singular, and plural by default)."""
        return self.phrase_forms(word, plural=plural)

    def street_forms(self, name: str) -> frozenset[str]:
        """Case forms of a street name for slot lists, with and without its type word.

        Adjectival names inflect ("Пролетарская" → пролетарской, пролетарскую, …); names that
        are already genitive stay ("Чижевского", "Ленина", "Ст.Разина" → "степана разина",
        "8 Марта"). The type word inflects on its own ("проспекта мира").
        """
        words = normalize_name(name).split()
        if not words:
            return frozenset()
        type_word: str | None = None
        type_first = True
        if len(words) > 1 and words[0] in _STREET_TYPES:
            type_word, core = words[0], words[1:]
        elif len(words) > 1 and words[-1] in _STREET_TYPES:
            type_word, core, type_first = words[-1], words[:-1], False
        else:
            core = words
        core_by_case = self._street_core_forms(core)
        type_by_case: dict[str, frozenset[str]] = {}
        if type_word is not None:
            type_parse = self._nominative(type_word)
            for case in CASES:
                type_by_case[case] = (
                    self._case_forms(type_parse, case, "sing", None)
                    if type_parse is not None
                    else frozenset({type_word})
                ) or frozenset({type_word})
        out = {" ".join(words), " ".join(core)}
        for case in CASES:
            cores = core_by_case.get(case, frozenset({" ".join(core)}))
            out |= cores
            for t, c in itertools.product(type_by_case.get(case, ()), cores):
                out.add(f"{t} {c}" if type_first else f"{c} {t}")
        return frozenset(out)

    def _street_core_forms(self, core: list[str]) -> dict[str, frozenset[str]]:
        """Case → forms of the street's own name; empty when the name does not inflect."""
        parses: list[Any] = []
        for index, word in enumerate(core):
            best = self.parse(word)
            if not best:
                return {}
            first = best[0]
            # The *most likely* reading decides: "Жукова" is first a female surname (nominative)
            # but as a street it is the genitive of Жуков, so names never inflect here.
            if any(t in first.tag for t in _NAME_TAGS):
                return {}
            adj = next(
                (p for p in best if p.tag.POS in _ADJ and p.tag.case == "nomn"),
                None,
            )
            if adj is not None and first.tag.POS in _ADJ:
                parses.append(adj)
            elif index == len(core) - 1 and first.tag.POS == "NOUN" and first.tag.case == "nomn":
                parses.append(first)
            else:
                return {}
        head = parses[-1]
        gender = head.tag.gender if head.tag.POS == "NOUN" else None
        out: dict[str, frozenset[str]] = {}
        for case in CASES:
            options = [self._case_forms(p, case, "sing", gender or p.tag.gender) for p in parses]
            out[case] = frozenset(" ".join(c) for c in itertools.product(*options))
        return out

    def surname_forms(self, surname: str, gender: Gender | None = None) -> frozenset[str]:
        """Singular case forms of a surname for the given gender (guessed from the form when
        None: "Петрова" → female, "Петров" → male; both when the form fits both, as
        "Шевчук"). Indeclinable surnames ("Сидоренко", "Черных", a woman's "Шевчук") give only
        themselves. Female "-ой" instrumentals also get their "-ою" variant ("петровою")."""
        word = _fold(surname.strip())
        if not word:
            return frozenset()
        parts = [p for p in re.split(r"[\s-]+", word) if p]
        genders = self._surname_genders(parts[-1], gender)
        out = {word}
        for g in genders:
            # Double surnames ("Петров-Водкин") decline part by part, in the same case.
            by_part = [self._surname_case_forms(part, g) for part in parts]
            for case in CASES:
                options = [
                    forms.get(case, frozenset({part}))
                    for forms, part in zip(by_part, parts, strict=True)
                ]
                out |= {"-".join(c) for c in itertools.product(*options)}
        return frozenset(out)

    def _surname_genders(self, word: str, gender: Gender | None) -> tuple[str, ...]:
        if gender is not None:
            return ("masc",) if gender == "m" else ("femn",)
        nominative = {
            p.tag.gender for p in self.parse(word) if "Surn" in p.tag and p.tag.case == "nomn"
        } & {"masc", "femn"}
        if nominative:
            return tuple(sorted(nominative))
        return ("femn",) if word.endswith(_FEMALE_SURNAME_ENDINGS) else ("masc",)

    def _surname_case_forms(self, word: str, gender: str) -> dict[str, frozenset[str]]:
        """Case → singular forms of one surname word for ``gender`` ("masc"/"femn")."""
        fixed = {case: frozenset({word}) for case in CASES}
        if word.endswith(_INDECLINABLE_ENDINGS) and not word.endswith(_FEMALE_SURNAME_ENDINGS):
            return fixed
        surnames = [p for p in self.parse(word) if "Surn" in p.tag]
        if any("Fixd" in p.tag and p.tag.gender in (gender, None) for p in surnames):
            return fixed
        for p in surnames:
            forms: dict[str, set[str]] = {}
            for form in p.lexeme:
                tag = form.tag
                if tag.number == "sing" and tag.gender in (gender, None) and tag.case in CASES:
                    text = _fold(str(form.word))
                    forms.setdefault(str(tag.case), set()).add(text)
                    if gender == "femn" and tag.case == "ablt" and text.endswith(("ой", "ей")):
                        forms["ablt"].add(text[:-1] + "ю")
            if forms:
                return {case: frozenset(f) for case, f in forms.items()}
        # Not in the dictionary as a surname ("Мельник"): a woman's surname ending in a
        # consonant does not decline; a man's declines like the noun.
        if gender == "femn" and not word.endswith(("а", "я")):
            return fixed
        noun = next((p for p in self.parse(word) if p.tag.POS == "NOUN"), None)
        if noun is None:
            return fixed
        out = {case: self._case_forms(noun, case, "sing", None) for case in CASES}
        return {case: f or frozenset({word}) for case, f in out.items()}

    def company_forms(self, name: str) -> frozenset[str]:
        """Case forms of a company's spoken core plus the normalised full name
        ("ООО «УК Жилкомсервис»" → {"жилкомсервис", "жилкомсервиса", …, "ооо ук жилкомсервис"})."""
        core = company_core(name)
        out = set(self.phrase_forms(core))
        full = normalize_name(name)
        if full:
            out.add(full)
        return frozenset(out)

    def position_forms(self, position: str) -> frozenset[str]:
        """Singular and plural case forms of a job title ("уборщица" → уборщицы, уборщиц,
        уборщицам, …; "главный инженер" → главных инженеров, …)."""
        return self.phrase_forms(position, plural=True)

    # --- answers -----------------------------------------------------------------------------

    def plural(self, n: int, noun: str) -> str:
        """The form of ``noun`` (a noun or "adjective noun") that agrees with ``n``:
        (5, "дом") → "домов"; (2, "управляющая компания") → "управляющие компании"."""
        return self._plural(n, noun)

    def _plural_uncached(self, n: int, noun: str) -> str:
        words = noun.split()
        out: list[str] = []
        for index, word in enumerate(words):
            p = self._nominative(word, names=False) or self._nominative(word)
            if p is None:
                out.append(word)
                continue
            agreed = p.make_agree_with_number(abs(n))
            if agreed is None:
                out.append(word)
            else:
                key = (_fold(str(p.normal_form)), str(agreed.tag.case), str(agreed.tag.number))
                out.append(_COUNT_FORMS.get(key, _fold(str(agreed.word))))
            if p.tag.POS == "NOUN":
                out.extend(words[index + 1 :])
                break
        return " ".join(out)

    def agree(self, n: int, noun: str) -> str:
        """``n`` followed by the agreeing noun: "1 дом", "3 дома", "5 домов", "21 дом",
        "11 домов", "5 человек"."""
        return f"{n} {self.plural(n, noun)}"

    def all_forms(self, words: Iterable[str]) -> frozenset[str]:
        """Union of `word_forms` over ``words`` (for vocabularies)."""
        out: set[str] = set()
        for word in words:
            out |= self.word_forms(word)
        return frozenset(out)


@functools.cache
def default_morph() -> Morph:
    """A process-wide `Morph`, created on first use, for callers without one injected."""
    return Morph()
