"""Inverse text normalisation (ITN) of Russian number words: "третьей" → 3, "сто двенадцать
дробь один" → 112/1.

Why our own code: none of the PyPI number parsers handles Russian ordinals, cardinals in every
case and house-number compounds together. The word tables come from
`unicode-rbnf` (CLDR spell-out rules, already a hassil dependency), so the vocabulary is the
CLDR one, not a hand-typed list.

How it works: every *atomic* number word (0–19, tens, hundreds, "тысяча", single-word
ordinals such as "двухсотый" and "двухтысячный") is read from every CLDR ruleset (all cases,
genders, plural) into a word → (value, class, ordinal) table, built once (about 40 ms). A
number is then parsed compositionally with a greedy longest match: hundreds, then tens, then
units or a teen, optionally preceded by "<n> тысяч(а|и|…)". Only the last word may be an
ordinal. Because the case of each word is not checked, case-mismatched speech ("ста двадцать
трех", a CLDR quirk and a common ASR result) parses as well as the correct form. Numbers up to
999 999 are covered.

Compounds for house numbers are glued after the number:

* "сто двенадцать дробь один" / "112 / 1" → ``112/1``;
* "пятнадцать корпус два" → ``15к2``; "строение три" → ``с3``;
* a letter after a number: "двадцать один а" → ``21а``. "а" and "в" are also words (a
  conjunction, a preposition), so they are glued only before the end, "корпус", a digit or a
  punctuation boundary; "б", "г", "д" and spoken letter names ("бэ", "вэ", "гэ", "дэ") always;
* digit forms typed by people: "3-й", "2-ой", "5-я", "15-го" → ordinals; "21а", "15к2",
  "112/1" → house numbers.

Colloquial brigade numbers ("тройка", "пятерку") come back as `TokenKind.NOUN` with their value.
"один"/"одна"/… is also a pronoun ("одна из бригад"), so a bare one-word "1" of that family is
flagged ``ambiguous``; "одни/одних/одними" (plural, almost always a pronoun) are not numbers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from unicode_rbnf import FormatPurpose, RbnfEngine
from unicode_rbnf.engine import NoRuleForNumberError

__all__ = [
    "HouseNumber",
    "NumberLexicon",
    "Token",
    "TokenKind",
    "cardinal_forms",
    "default_lexicon",
    "itn",
    "ordinal_forms",
    "parse_digit_word",
    "parse_number",
]

#: Digit strings longer than this stay words: Python refuses int() of >4300 digits, and no
#: house, brigade or date number is that long.
_MAX_DIGITS = 9


class TokenKind(StrEnum):
    """What a normalised token stands for."""

    WORD = "word"
    CARDINAL = "cardinal"  # "три", "трех", "3"
    ORDINAL = "ordinal"  # "третьей", "3-й"
    NOUN = "noun"  # "тройка": a colloquial number noun (brigade 3)
    HOUSE = "house"  # "112/1", "15к2", "21а"


@dataclass(frozen=True, slots=True)
class HouseNumber:
    """A house number with its optional parts.

    ``str()`` gives the canonical form used by `bitrix.address.normalize_number`: number,
    ``/fraction``, ``к<building>``, ``с<structure>``, then the letter ("112/1", "15к2", "21а").
    """

    number: int
    fraction: int | None = None
    letter: str | None = None
    building: int | None = None
    structure: int | None = None

    def __str__(self) -> str:
        out = str(self.number)
        if self.fraction is not None:
            out += f"/{self.fraction}"
        if self.building is not None:
            out += f"к{self.building}"
        if self.structure is not None:
            out += f"с{self.structure}"
        if self.letter:
            out += self.letter
        return out


@dataclass(frozen=True, slots=True)
class Token:
    """One token of normalised text.

    ``start``/``end`` are the half-open span of source words (indices into the word list given
    to `itn`, i.e. `NormalizedText.words`), ``source`` those words joined by spaces. ``text`` is
    what goes into the normalised string: the word itself, or digits for numbers ("3",
    "112/1"). ``value`` is the number for CARDINAL/ORDINAL/NOUN and the main number of a HOUSE.
    """

    text: str
    kind: TokenKind
    start: int
    end: int
    source: str
    value: int | None = None
    house: HouseNumber | None = None
    ambiguous: bool = False

    @property
    def is_number(self) -> bool:
        """True for every numeric kind (cardinal, ordinal, noun, house)."""
        return self.kind is not TokenKind.WORD


class _Cls(IntEnum):
    """Place of an atomic number word in a compound number."""

    ZERO = 0
    UNIT = 1  # 1..9
    TEEN = 2  # 10..19
    TENS = 3  # 20..90
    HUND = 4  # 100..900
    THOUSAND = 5  # "тысяча" forms: a multiplier
    THOUSANDS_ORD = 6  # one-word ordinals 1000..9000 ("двухтысячный")


@dataclass(frozen=True, slots=True)
class _Atom:
    value: int
    cls: _Cls
    ordinal: bool


def _cls_of(value: int) -> _Cls:
    if value == 0:
        return _Cls.ZERO
    if value < 10:
        return _Cls.UNIT
    if value < 20:
        return _Cls.TEEN
    if value < 100:
        return _Cls.TENS
    return _Cls.HUND


# Pronoun-like plural forms of "один": "одни", "одних", "одними" are nearly never numerals.
_NOT_NUMBERS = frozenset({"одни", "одних", "одними"})
_ONE_FAMILY = frozenset({"один", "одна", "одно", "одного", "одной", "одному", "одним", "одном"})
_ONE_FAMILY |= {"одну", "одною"}

# Colloquial number nouns (brigade "тройка"). Written out because the declension is regular
# and pymorphy3 would be a 30 MB dependency for ten words: stem, value, genitive plural.
_NUMBER_NOUNS: tuple[tuple[str, int, str], ...] = (
    ("двойк", 2, "двоек"),
    ("тройк", 3, "троек"),
    ("четверк", 4, "четверок"),
    ("пятерк", 5, "пятерок"),
    ("шестерк", 6, "шестерок"),
    ("семерк", 7, "семерок"),
    ("восьмерк", 8, "восьмерок"),
    ("девятк", 9, "девяток"),
    ("десятк", 10, "десяток"),
)
_NOUN_ENDINGS = ("а", "и", "е", "у", "ой", "ою", "ам", "ами", "ах")

_FRACTION_WORDS = frozenset({"дробь", "/"})
_BUILDING_WORDS = frozenset({"корпус", "корп"})
_STRUCTURE_WORDS = frozenset({"строение", "стр"})
# After "<n> к <m>", these words show that "к" was the preposition ("к 5 числу").
_NOT_BUILDING_AFTER = frozenset({"числу", "часам", "часу", "утру", "вечеру", "обеду", "минутам"})
# Letters that are not Russian words: glued after a number wherever they follow it.
_LETTERS_ALWAYS = {"б": "б", "г": "г", "д": "д", "бэ": "б", "вэ": "в", "гэ": "г", "дэ": "д"}
# Letters that are also words ("а" conjunction, "в" preposition): glued only at a boundary.
_LETTERS_AT_BOUNDARY = frozenset({"а", "в"})

# "3-й", "2-ой", "5-я", "15-го"; short suffixes that are ambiguous without a hyphen ("5м" may be
# metres, "5е" a house letter) need the hyphen.
_ORD_SUFFIX_FREE = "й|ый|ой|ий|я|ая|ья|го|ого|его|му|ому|ему"
_ORD_SUFFIX_HYPHEN = "е|ое|ье|ее|м|ым|им|ом|ем|х|ых|их|ю|ую|ью|ми|ыми|ими"
_ORDINAL_DIGITS = re.compile(
    rf"([0-9]{{1,{_MAX_DIGITS}}})(?:-?(?:{_ORD_SUFFIX_FREE})|-(?:{_ORD_SUFFIX_HYPHEN}))"
)
_HOUSE_DIGITS = re.compile(
    rf"([0-9]{{1,{_MAX_DIGITS}}})(?:/([0-9]{{1,{_MAX_DIGITS}}}))?-?([а-д])?"
    rf"(?:к([0-9]{{1,{_MAX_DIGITS}}}))?(?:с([0-9]{{1,{_MAX_DIGITS}}}))?([а-д])?"
)


def _fold(text: str) -> str:
    return text.replace("ё", "е").replace("\xad", "")


class NumberLexicon:
    """Number-word tables built once from unicode-rbnf, and the compositional matcher.

    Build it once (see `default_lexicon`) and share it; it is immutable after construction.
    """

    def __init__(self, engine: RbnfEngine | None = None) -> None:
        self._engine = engine if engine is not None else RbnfEngine.for_language("ru")
        atoms: dict[str, _Atom] = {}
        atomic_values = [*range(20), *range(20, 100, 10), *range(100, 1000, 100)]
        # Cardinals first so that a word CLDR lists under both purposes (its ordinal
        # rulesets give "двести" and "ноль" for some genders) stays a cardinal.
        for value in atomic_values:
            for text in self._engine.format_number(value).text_by_ruleset.values():
                word = _fold(text)
                if " " not in word and word not in _NOT_NUMBERS:
                    atoms.setdefault(word, _Atom(value, _cls_of(value), ordinal=False))
        for value in atomic_values:
            res = self._engine.format_number(value, FormatPurpose.ORDINAL)
            for text in res.text_by_ruleset.values():
                word = _fold(text)
                if " " not in word:
                    atoms.setdefault(word, _Atom(value, _cls_of(value), ordinal=True))
        # "тысяча" in every case: the last word of 1000/2000/5000 in all cardinal rulesets.
        for value in (1000, 2000, 5000):
            for text in self._engine.format_number(value).text_by_ruleset.values():
                word = _fold(text).split()[-1]
                atoms.setdefault(word, _Atom(1000, _Cls.THOUSAND, ordinal=False))
        atoms.setdefault("тысячею", _Atom(1000, _Cls.THOUSAND, ordinal=False))
        for mult in range(1, 10):
            res = self._engine.format_number(mult * 1000, FormatPurpose.ORDINAL)
            for text in res.text_by_ruleset.values():
                word = _fold(text)
                if " " not in word:
                    atoms.setdefault(word, _Atom(mult * 1000, _Cls.THOUSANDS_ORD, ordinal=True))
        # CLDR omits the feminine instrumental variants "-ою/-ею" ("третьею бригадой").
        for word, atom in list(atoms.items()):
            if atom.ordinal and word.endswith(("ой", "ей")):
                atoms.setdefault(word[:-1] + "ю", atom)
        # CLDR quirk: dative "третьому" where Russian has "третьему".
        atoms["третьему"] = _Atom(3, _Cls.UNIT, ordinal=True)
        atoms.pop("третьому", None)
        atoms.setdefault("нуль", _Atom(0, _Cls.ZERO, ordinal=False))
        self._atoms = atoms
        self._cardinal_words = frozenset(w for w, a in atoms.items() if not a.ordinal)
        nouns: dict[str, int] = {}
        for stem, value, gen_plural in _NUMBER_NOUNS:
            for ending in _NOUN_ENDINGS:
                nouns[stem + ending] = value
            nouns[gen_plural] = value
        self._nouns = nouns

    @property
    def words(self) -> frozenset[str]:
        """Every atomic number word the matcher knows (for tests and grammar vocabularies)."""
        return frozenset(self._atoms)

    def noun_value(self, word: str) -> int | None:
        """Value of a colloquial number noun ("тройку" → 3), else None."""
        return self._nouns.get(word)

    def _atom(self, words: Sequence[str], i: int) -> _Atom | None:
        return self._atoms.get(words[i]) if i < len(words) else None

    def _below_thousand(self, words: Sequence[str], i: int) -> tuple[int, int, bool] | None:
        """Parse hundreds / tens / units from ``i``: (value, end, ordinal) or None."""
        atom = self._atom(words, i)
        if atom is None:
            return None
        if atom.cls is _Cls.ZERO:
            return (0, i + 1, atom.ordinal)
        if atom.cls not in (_Cls.UNIT, _Cls.TEEN, _Cls.TENS, _Cls.HUND):
            return None
        value, j = 0, i
        if atom.cls is _Cls.HUND:
            value, j = atom.value, j + 1
            if atom.ordinal:
                return (value, j, True)
            atom = self._atom(words, j)
            if atom is None or atom.cls not in (_Cls.UNIT, _Cls.TEEN, _Cls.TENS):
                return (value, j, False)
        if atom.cls is _Cls.TENS:
            value, j = value + atom.value, j + 1
            if atom.ordinal:
                return (value, j, True)
            atom = self._atom(words, j)
            if atom is None or atom.cls is not _Cls.UNIT:
                return (value, j, False)
        # A unit or a teen ends the number.
        return (value + atom.value, j + 1, atom.ordinal)

    def match(self, words: Sequence[str], i: int) -> tuple[int, int, TokenKind] | None:
        """Longest number starting at ``words[i]``: (value, end index, kind) or None.

        Accepts number words and plain digit strings ("2 тысячи" → 2000).
        """
        if i >= len(words):
            return None
        word = words[i]
        head: tuple[int, int, bool] | None
        if word.isdigit() and len(word) <= _MAX_DIGITS and word.isascii():
            head = (int(word), i + 1, False)
        else:
            head = self._below_thousand(words, i)
        if head is None:
            atom = self._atoms.get(word)
            if atom is None:
                return None
            if atom.cls is _Cls.THOUSANDS_ORD:
                return (atom.value, i + 1, TokenKind.ORDINAL)
            if atom.cls is not _Cls.THOUSAND:
                return None
            head = (1, i, False)  # a bare "тысяча": the multiplier is 1
        value, j, ordinal = head
        thousand = self._atom(words, j)
        if not ordinal and thousand is not None and thousand.cls is _Cls.THOUSAND and value:
            value, j = value * 1000, j + 1
            rest = self._below_thousand(words, j)
            if rest is not None and rest[0] != 0:
                value, j, ordinal = value + rest[0], rest[1], rest[2]
        return (value, j, TokenKind.ORDINAL if ordinal else TokenKind.CARDINAL)

    def cardinal_forms(self, n: int) -> frozenset[str]:
        """Every CLDR spelling of cardinal ``n`` (all cases and genders), ё folded."""
        return _cardinal_forms(self._engine, n)

    def ordinal_forms(self, n: int) -> frozenset[str]:
        """Every spelling of ordinal ``n`` in all cases, genders and plural, ё folded,
        with the CLDR dative quirk fixed ("третьему")."""
        return _ordinal_forms(self._engine, n, self._cardinal_words)


@functools.lru_cache(maxsize=2048)
def _cardinal_forms(engine: RbnfEngine, n: int) -> frozenset[str]:
    try:
        res = engine.format_number(n)
    except NoRuleForNumberError:
        return frozenset()
    forms = {_fold(t) for t in res.text_by_ruleset.values()}
    # CLDR's masculine locative keeps nominative tens ("ста двадцать трех"); add the correct
    # "ста двадцати трех". The quirky one stays: people and ASR say it too.
    loc = res.text_by_ruleset.get("spellout-cardinal-neuter-locative")
    if loc:
        forms.add(_fold(loc))
    return frozenset(f for f in forms if f.split()[-1] not in _NOT_NUMBERS)


@functools.lru_cache(maxsize=2048)
def _ordinal_forms(engine: RbnfEngine, n: int, cardinal_words: frozenset[str]) -> frozenset[str]:
    try:
        res = engine.format_number(n, FormatPurpose.ORDINAL)
    except NoRuleForNumberError:
        return frozenset()  # CLDR has no ordinal rule for some large numbers
    forms = set()
    for text in res.text_by_ruleset.values():
        form = _fold(text).replace("третьому", "третьему")
        # Some CLDR ordinal rulesets give a cardinal ("двести", "ноль"): not an ordinal.
        if form.split()[-1] not in cardinal_words:
            forms.add(form)
    return frozenset(forms)


@functools.cache
def default_lexicon() -> NumberLexicon:
    """The shared lexicon, built on first use (about 40 ms) and kept for the process."""
    return NumberLexicon()


def cardinal_forms(n: int) -> frozenset[str]:
    """Every spelling of cardinal ``n`` ("три", "трех", "трем", "тремя"), for grammar lists."""
    return default_lexicon().cardinal_forms(n)


def ordinal_forms(n: int) -> frozenset[str]:
    """Every spelling of ordinal ``n`` ("третий", "третьей", "третьему", …), for grammar lists."""
    return default_lexicon().ordinal_forms(n)


def parse_number(text: str, lexicon: NumberLexicon | None = None) -> tuple[int, TokenKind] | None:
    """Value and kind when the whole ``text`` is one number ("сто двадцать третьей" →
    (123, ORDINAL); "3-й" → (3, ORDINAL); "тройка" → (3, NOUN)); otherwise None."""
    words = _fold(text.lower()).split()
    if not words:
        return None
    tokens = itn(words, lexicon=lexicon)
    if len(tokens) != 1 or tokens[0].value is None or tokens[0].kind is TokenKind.HOUSE:
        return None
    return (tokens[0].value, tokens[0].kind)


def parse_digit_word(word: str) -> tuple[int, TokenKind, HouseNumber | None] | None:
    """Typed digit forms: "10" → cardinal, "3-й" → ordinal, "21а"/"15к2"/"112/1" → house
    (with its parts); anything else → None."""
    if word.isdigit():
        if len(word) <= _MAX_DIGITS and word.isascii():
            return (int(word), TokenKind.CARDINAL, None)
        return None
    m = _ORDINAL_DIGITS.fullmatch(word)
    if m:
        return (int(m.group(1)), TokenKind.ORDINAL, None)
    m = _HOUSE_DIGITS.fullmatch(word)
    if m and (m.group(2) or m.group(3) or m.group(4) or m.group(5) or m.group(6)):
        if m.group(3) and m.group(6):
            return None  # two letters ("5ак2б"): not a house number we understand
        house = HouseNumber(
            number=int(m.group(1)),
            fraction=int(m.group(2)) if m.group(2) else None,
            letter=m.group(3) or m.group(6) or None,
            building=int(m.group(4)) if m.group(4) else None,
            structure=int(m.group(5)) if m.group(5) else None,
        )
        return (house.number, TokenKind.HOUSE, house)
    return None


def itn(
    words: Sequence[str],
    boundaries: Sequence[bool] | None = None,
    lexicon: NumberLexicon | None = None,
) -> list[Token]:
    """Turn number words into number tokens, greedy longest match, left to right.

    ``words`` must be lower-case with ё folded (what `normalize` produces).
    ``boundaries[i]`` is True when punctuation followed ``words[i]`` in the original text; it
    lets "дом 4 а, подъезд 2" glue the letter. Every returned token keeps its source span.
    """
    lex = lexicon if lexicon is not None else default_lexicon()
    n = len(words)

    def boundary_after(i: int) -> bool:
        return boundaries is not None and i < len(boundaries) and boundaries[i]

    def cardinal_at(i: int) -> tuple[int, int, bool] | None:
        """A cardinal at ``i``: (value, end, typed as digits)."""
        if i >= n:
            return None
        m = lex.match(words, i)
        if m is None or m[2] is not TokenKind.CARDINAL:
            return None
        return (m[0], m[1], words[i].isdigit())

    def letter_at(i: int) -> tuple[str | None, int]:
        """A house letter at ``i``: (letter, end) or (None, i)."""
        if i >= n:
            return None, i
        w = words[i]
        if w in _LETTERS_ALWAYS:
            return _LETTERS_ALWAYS[w], i + 1
        if w in _LETTERS_AT_BOUNDARY and (
            i + 1 == n
            or boundary_after(i)
            or words[i + 1] in _BUILDING_WORDS
            or words[i + 1] in _STRUCTURE_WORDS
            or words[i + 1][:1].isdigit()
        ):
            return w, i + 1
        return None, i

    tokens: list[Token] = []
    i = 0
    while i < n:
        word = words[i]
        start = i
        matched = lex.match(words, i)
        value: int
        kind: TokenKind
        house: HouseNumber | None = None
        if matched is not None:
            value, i, kind = matched
        else:
            digit = parse_digit_word(word)
            noun = lex.noun_value(word)
            if digit is not None:
                value, kind, house = digit
                i += 1
            elif noun is not None:
                tokens.append(Token(str(noun), TokenKind.NOUN, i, i + 1, word, value=noun))
                i += 1
                continue
            else:
                tokens.append(Token(word, TokenKind.WORD, i, i + 1, word))
                i += 1
                continue

        ambiguous = kind is TokenKind.CARDINAL and i - start == 1 and words[start] in _ONE_FAMILY
        typed_digits = words[start][:1].isascii() and words[start][:1].isdigit()
        if kind in (TokenKind.CARDINAL, TokenKind.HOUSE):
            parts = house or HouseNumber(value)
            fraction, letter = parts.fraction, parts.letter
            building, structure = parts.building, parts.structure
            if fraction is None and i < n and words[i] in _FRACTION_WORDS:
                nxt = cardinal_at(i + 1)
                if nxt is not None:
                    fraction, i = nxt[0], nxt[1]
            if letter is None:
                letter, i = letter_at(i)
            if building is None and i < n:
                w = words[i]
                nxt = cardinal_at(i + 1)
                # A bare "к" is also a preposition ("к 5 числу"); trust it as "корпус" only
                # between typed digits ("15 к 2"), where people abbreviate.
                if nxt is not None and (
                    w in _BUILDING_WORDS
                    or (
                        w == "к"
                        and typed_digits
                        and nxt[2]
                        and (nxt[1] >= n or words[nxt[1]] not in _NOT_BUILDING_AFTER)
                    )
                ):
                    building, i = nxt[0], nxt[1]
            if structure is None and i < n and words[i] in _STRUCTURE_WORDS:
                nxt = cardinal_at(i + 1)
                if nxt is not None:
                    structure, i = nxt[0], nxt[1]
            if letter is None:  # "пятнадцать корпус два а"
                letter, i = letter_at(i)
            new = HouseNumber(value, fraction, letter, building, structure)
            if new != HouseNumber(value):
                house, kind, ambiguous = new, TokenKind.HOUSE, False
        text = str(house) if house is not None else str(value)
        source = " ".join(words[start:i])
        tokens.append(Token(text, kind, start, i, source, value, house, ambiguous))
    return tokens
