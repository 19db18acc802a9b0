"""Find and resolve the names in a request: brigades, dates, houses, streets, companies, people.

The tagger runs on normalised tokens (`bot.nlu.normalize`): numbers are already digits, so
«третьей бригады» is ``3 бригады`` and «сто двенадцать дробь один» is ``112/1``. It

1. repairs misheard words against the vocabulary (a one- or two-letter slip, a word Vosk split
   in two), because ASR noise is the common case for voice notes;
2. finds each entity — exactly through the catalog's generated word forms first, then fuzzily
   (rapidfuzz plus a phonetic key) for what is left — and resolves it against the CRM: a house
   number must exist on the chosen street, two equally good streets or namesakes stay
   ambiguous (the engine will ask);
3. replaces each entity's span, with the preposition in front of it, by a placeholder word
   (``xbrigade``, ``xhouse``, …) so the sentence templates only describe phrasing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bitrix.address import normalize_number
from bitrix.company import CompanySnapshot
from bitrix.models import House
from bot.nlu.catalog import COMPANY_CUES, STREET_TYPE_WORDS, Catalog, StreetEntry
from bot.nlu.dates import DateMatch, DateRange, find_dates
from bot.nlu.morph import Morph, default_morph
from bot.nlu.normalize import NormalizedText, normalize_name
from bot.nlu.numbers import Token, TokenKind, default_lexicon, parse_number
from bot.nlu.phonetic import phonetic_key, plain_text, similarity

PREPOSITIONS = frozenset(
    {"в", "во", "на", "у", "по", "для", "из", "с", "со", "к", "ко", "о", "об", "про", "от", "за",
     "под", "над", "при", "без", "кроме", "через", "перед"}
)  # fmt: skip
BRIGADE_WORDS = frozenset(
    {
        "бригада",
        "бригады",
        "бригаде",
        "бригаду",
        "бригадой",
        "бригадою",
        "бригад",
        "бригадам",
        "бригадами",
        "бригадах",
    }
)
_NUMBER_WORDS = frozenset({"номер", "н", "no"})
_HOUSE_WORDS = frozenset({"дом", "дома", "дому", "доме", "домом", "д", "адрес", "адресу"})
_STREET_TYPES = STREET_TYPE_WORDS | {"шоссе"}
_PERSON_TITLES = frozenset(
    {
        "сотрудник",
        "сотрудника",
        "сотруднику",
        "сотрудником",
        "сотрудница",
        "сотрудницы",
        "сотруднице",
        "сотрудницу",
        "товарищ",
        "товарища",
        "коллега",
        "коллеги",
        "коллегу",
        "гражданин",
        "гражданка",
    }
)
_COMPANY_LEAD = frozenset(
    COMPANY_CUES
    | {"управляющая компания", "управляющей компании", "обслуживающая"}
    | {"управляйка", "управляйки", "управляйку"}
)

#: Function words and pronouns: never names, never repaired into something else.
COMMON_WORDS = frozenset(
    # A word list reads better as one string than as 120 quoted items.
    "я мы ты вы он она оно они его ее их нас вас нам вам мне меня тебя тебе него нее ней них им "  # noqa: SIM905
    "кто что где когда как какой какая какое какие каких чей чья чьи это этот эта эти этих тот та "
    "те все всё весь вся всех и а но или да нет не ни же ли бы то там тут здесь сейчас уже еще "
    "очень только тоже также потом теперь надо нужно можно есть был была были будет будут мой моя "
    "мои наш наша наши ваш ваша ваши свой своя свои сам сама сами который которая которые "
    "хочу хотел хотела давай давайте скажи скажите подскажи подскажите слушай "
    "нибудь либо кое".split()  # «что нибудь», «кто либо», «кое что» as speech splits them
)

_FEMININE_ENDINGS = ("ой", "ая", "ую", "ей", "ою", "ья", "ью")
# Nouns a masculine or neuter ordinal may count ("второй дом", "пятой квартиры"): the ordinal
# before them is not a brigade.
_COUNTED_NOUNS = frozenset(
    {
        "дом",
        "дома",
        "доме",
        "подъезд",
        "подъезда",
        "подъезде",
        "этаж",
        "этаже",
        "этажа",
        "квартира",
        "квартиры",
        "квартире",
        "квартиру",
        "корпус",
        "корпуса",
        "день",
        "дня",
        "неделе",
        "недели",
        "неделю",
        "неделя",
        "месяц",
        "раз",
        "раза",
        "смена",
        "смены",
        "смене",
        "смену",
        "очередь",
        "половину",
        "линии",
        "улице",
        "очереди",
        "половине",
        "половины",
    }
)

#: Vocabulary of house filters and text filters (see the file's comments).
FILTERS: dict[str, Any] = yaml.safe_load(
    resources.files("bot.nlu").joinpath("filters.yaml").read_text(encoding="utf-8")
)
#: Cue words of the keyword fallback, metrics and asides (bot/nlu/cues.yaml), read once.
CUE_DOC: dict[str, Any] = yaml.safe_load(
    resources.files("bot.nlu").joinpath("cues.yaml").read_text(encoding="utf-8")
)
#: Names a negation can exclude (a feature such as «без УК» already says what it lacks).
_NEGATABLE = frozenset(
    {"brigade", "person", "company", "street", "town", "house", "house_type", "date"}
    | {"position", "department"}
)
#: Negations, longest first («за исключением» before «не»).
_NEGATIONS = sorted((tuple(p.split()) for p in FILTERS["negations"]), key=lambda p: -len(p))
_RANGE_FROM = frozenset(FILTERS["range_from"])
_RANGE_TO = frozenset(FILTERS["range_to"])


def _range_start(
    tokens: Sequence[Token], words: Sequence[str], taken: Sequence[bool], start: int
) -> tuple[int, int] | None:
    """«от 100» right before ``start`` (where «до 200 квартир» begins): (new start, low)."""
    k = start - 2
    if k < 0 or taken[k] or taken[k + 1] or words[k] not in _RANGE_FROM:
        return None
    number = tokens[k + 1]
    if number.kind is not TokenKind.CARDINAL or number.value is None:
        return None
    return k, number.value + (1 if words[k] in FILTERS["more_than"] else 0)


def _range_end(
    tokens: Sequence[Token], words: Sequence[str], taken: Sequence[bool], end: int
) -> tuple[int, int] | None:
    """«до 200» right at ``end`` (after «квартир от 100»): (new end, high)."""
    if end + 1 >= len(tokens) or taken[end] or taken[end + 1] or words[end] not in _RANGE_TO:
        return None
    number = tokens[end + 1]
    if number.kind is not TokenKind.CARDINAL or number.value is None:
        return None
    return end + 2, number.value


_BOUND_PHRASES = sorted(
    (
        (tuple(phrase.split()), kind)
        for kind in ("at_least", "more_than", "at_most", "less_than")
        for phrase in FILTERS[kind]
    ),
    key=lambda item: -len(item[0]),
)
# The same bounds said after the counted noun («200 квартир и больше»), longest first.
_BOUND_AFTER_PHRASES = sorted(
    (
        (tuple(phrase.split()), kind)
        for kind in ("at_least_after", "at_most_after")
        for phrase in FILTERS[kind]
    ),
    key=lambda item: -len(item[0]),
)

_CACHE_LIMIT = 50_000
# Words that join a house number ("112 дробь 1", "15 корпус 2"): repaired before ITN.
_ADDRESS_WORDS = frozenset({"дробь", "корпус", "корп", "строение", "литера", "литер"})

PLACEHOLDERS = {
    "no_company": "xnocompany",
    "town": "xtown",
    "house_type": "xhousetype",
    "floors": "xrange",
    "apartments": "xrange",
    "entrances": "xrange",
    "lifts": "xrange",
    "brigade": "xbrigade",
    "date": "xdate",
    "house": "xhouse",
    "street": "xstreet",
    "company": "xcompany",
    "person": "xperson",
    "position": "xposition",
    "department": "xdepartment",
}


@dataclass
class Mention:
    """An entity found in the request.

    ``value`` is the resolved entity when there is exactly one; ``choices`` lists them when the
    request fits several (the engine asks which); ``missing`` marks a name that was said but
    does not exist in the CRM (e.g. a house number not on that street), with ``near`` holding
    what does exist.
    """

    kind: str
    start: int
    end: int
    text: str
    value: Any = None
    choices: list[Any] = field(default_factory=list)
    missing: bool = False
    near: list[Any] = field(default_factory=list)
    fuzzy: bool = False
    #: A house said that exists only as a closed contract (lost-stage deal).
    closed: Any = None
    #: Why a missing name is missing, when ``near`` alone does not say it: "other_name" for a
    #: surname that exists with another first name (``near`` holds who does).
    reason: str = ""
    #: Said after «не»/«кроме»: excluded, never a filter (see `Tagger._negate`).
    negated: bool = False

    @property
    def resolved(self) -> bool:
        """Exactly one entity fits."""
        return self.value is not None and not self.missing


@dataclass
class Tagged:
    """A request with its entities found and replaced by placeholders."""

    tokens: list[Token]
    mentions: list[Mention]
    text: str
    corrections: list[tuple[str, str]]
    unknown: list[str]
    #: Words of a task title or event name to filter by ("жалобам" → "жалоб").
    texts: list[Mention] = field(default_factory=list)
    #: Indexes of the tokens no entity took (the checker of rule 1 reads them).
    free: list[int] = field(default_factory=list)

    def first(self, kind: str) -> Mention | None:
        """The first mention of a kind."""
        return next((m for m in self.mentions if m.kind == kind), None)

    def all(self, kind: str) -> list[Mention]:
        """Every mention of a kind."""
        return [m for m in self.mentions if m.kind == kind]

    def bare_numbers(self) -> list[Token]:
        """Numbers that belong to no entity (e.g. «а у 5?» in a follow-up)."""
        taken = {i for m in self.mentions for i in range(m.start, m.end)}
        return [t for i, t in enumerate(self.tokens) if t.is_number and i not in taken]


MONTH_GENITIVE = {
    name: index
    for index, name in enumerate(
        ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
         "сентября", "октября", "ноября", "декабря"),
        start=1,
    )
}  # fmt: skip


def _join_ranges(tokens: Sequence[Token], found: list[DateMatch], today: date) -> list[DateMatch]:
    """ "с 1 по 5 декабря", "с 20 ноября по 30 ноября", "с понедельника по среду": one range."""
    out: list[DateMatch] = []
    for match in found:
        starts_with_to = match.text.split()[:1] in (["по"], ["до"])
        previous = out[-1] if out else None
        if starts_with_to and previous is not None and previous.end == match.start:
            start, end = previous.range.start, match.range.end
            while end < start:  # "с пятницы по вторник": the next such weekday
                end += timedelta(days=7)
            text = f"{previous.text} {match.text}"
            out[-1] = DateMatch(DateRange(start, end), previous.start, match.end, match.kind, text)
            continue
        # «на завтра и послезавтра», «сегодня и завтра»: two touching days joined by «и» are
        # one range («в понедельник и в среду» is not: the range would add Tuesday).
        if (
            previous is not None
            and [t.text for t in tokens[previous.end : match.start]] in (["и"], ["и", "на"])
            and previous.range.end + timedelta(days=1) >= match.range.start
            and match.range.end + timedelta(days=1) >= previous.range.start
        ):
            joined = previous.range.union(match.range)
            text = " ".join(t.text for t in tokens[previous.start : match.end])
            out[-1] = DateMatch(joined, previous.start, match.end, previous.kind, text)
            continue
        first = match.start
        # "с 1 по 5 декабря": the first day is a bare number in the same month.
        if (
            starts_with_to
            and first >= 2
            and tokens[first - 2].text in ("с", "со", "от")
            and tokens[first - 1].kind in (TokenKind.CARDINAL, TokenKind.ORDINAL)
            and tokens[first - 1].value is not None
            and match.range.start == match.range.end
        ):
            end_day = match.range.end
            day = tokens[first - 1].value or 0
            try:
                start_day: date | None = end_day.replace(day=day)
            except ValueError:
                start_day = None
            if start_day is not None and start_day <= end_day:
                text = f"{tokens[first - 2].text} {tokens[first - 1].text} {match.text}"
                out.append(
                    DateMatch(
                        DateRange(start_day, end_day), first - 2, match.end, match.kind, text
                    )
                )
                continue
        out.append(match)
    return out


def _common_prefix(words: Sequence[str]) -> str:
    shortest = min(words, key=len)
    for i, ch in enumerate(shortest):
        if any(w[i] != ch for w in words):
            return shortest[:i]
    return shortest


def _word(token: Token) -> str:
    return token.text if token.kind is TokenKind.WORD else ""


def _number_text(token: Token) -> str | None:
    if token.kind is TokenKind.HOUSE and token.house is not None:
        return str(token.house)
    if token.kind in (TokenKind.CARDINAL, TokenKind.ORDINAL) and token.value is not None:
        return str(token.value)
    return None


def _replace(token: Token, text: str) -> Token:
    return Token(
        text,
        token.kind,
        token.start,
        token.end,
        token.source,
        token.value,
        token.house,
        token.ambiguous,
    )


#: Women's surnames in the nominative that are also men's in the genitive (Смирнова, Ильина),
#: and the words after which a surname is in the genitive (filters.yaml).
_FEMININE_LIKE_GENITIVE = tuple(FILTERS["feminine_like_genitive"])
_GENITIVE_PREPOSITIONS = frozenset(FILTERS["genitive_prepositions"])
_POSSESSED = frozenset(FILTERS["possessed_nouns"])
#: Parts of speech a company's name is made of.
_NAME_POS = frozenset({"NOUN", "ADJF", "ADJS"})


class Tagger:
    """Finds the entities of requests against one catalog (see the module docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        snapshot: CompanySnapshot,
        vocabulary: Iterable[str],
        morph: Morph | None = None,
    ):
        self.catalog = catalog
        self.snapshot = snapshot
        self.morph = morph or default_morph()
        #: Words of the questions themselves (templates, cues), not names from the CRM.
        self.grammar_words = frozenset(vocabulary) | COMMON_WORDS
        # Phrase tables in the shape `_longest` takes, built once (tagging runs per request).
        self._position_table = {k: {v} for k, v in self.catalog.positions.items()}
        self._department_table = {k: {v} for k, v in self.catalog.departments.items()}
        self._said_as: dict[str, str] = {}
        self.vocabulary = (
            frozenset(vocabulary)
            | catalog.vocabulary
            | PREPOSITIONS
            | _STREET_TYPES
            | _HOUSE_WORDS
            | _PERSON_TITLES
            | _NUMBER_WORDS
            | COMPANY_CUES
            | COMMON_WORDS
            | _ADDRESS_WORDS
        )
        # Number words take part in repairs ("четыри" → "четыре") before ITN reads them.
        self._lexicon = default_lexicon()
        self.vocabulary |= self._lexicon.words
        # Candidates for repairing misheard words: long enough that a slip is recognisable.
        self._repair_pool = sorted(w for w in self.vocabulary if len(w) >= 4 and w.isalpha())
        self._repair_windows = _length_windows(self._repair_pool)
        self._street_cores = [
            (e.key, e.core.replace(" ", ""), e) for e in catalog.streets.values()
        ]
        self._company_cores = {
            cid: core.replace(" ", "") for cid, core in catalog.company_cores.items() if core
        }
        self._surname_pool = sorted(catalog.surnames)
        # `similarity` of a word to each surname form, split into its two halves: the forms'
        # plain texts and phonetic keys are computed here once, not per request and form.
        self._surname_plain = [plain_text(form) for form in self._surname_pool]
        self._surname_keys = [phonetic_key(form) for form in self._surname_pool]
        # Kinds of houses in the company («панельный», …), for «панельных» (`_filters`).
        self._house_types = sorted({h.house_type for h in snapshot.houses if h.house_type})
        # Every stem or prefix of the filters' tables, for a quick «none of them» per word.
        self._house_type_stems = tuple(str(k) for k in FILTERS["house_types"])
        self._bounded_stems = tuple(str(s) for stems in FILTERS["bounded"].values() for s in stems)
        self._compound_prefixes = tuple(str(k) for k in FILTERS["compound_numbers"])
        # Fuzzy lookups cost ~0.2 ms each and the same misheard words recur: remember them.
        self._nearest_cache: dict[str, str | None] = {}
        self._near_cache: dict[str, bool] = {}
        self._company_score_cache: dict[str, tuple[tuple[float, str], ...]] = {}
        self._street_score_cache: dict[str, tuple[tuple[float, StreetEntry], ...]] = {}

    # ------------------------------------------------------------------ repair
    def repair(self, tokens: Sequence[Token]) -> tuple[list[Token], list[tuple[str, str]]]:
        """Fix misheard words: join a word Vosk split in two, correct a small slip."""
        out: list[Token] = []
        corrections: list[tuple[str, str]] = []
        vocab = self.vocabulary
        i = 0
        while i < len(tokens):
            token = tokens[i]
            word = _word(token)
            # A number word may be the first half of a split one ("две надцать").
            head = word or (token.source if " " not in token.source else "")
            if head and i + 1 < len(tokens) and _word(tokens[i + 1]):
                joined = head + _word(tokens[i + 1])
                # The joined word must be known, or one letter away from a known one: two
                # real words ("домов под") must not merge into a third ("домовой"). Two known
                # words are never joined, so the fuzzy search is not even made for them.
                if (head not in vocab or _word(tokens[i + 1]) not in vocab) and (
                    joined in vocab or self._close(joined)
                ):
                    target = joined if joined in vocab else self._nearest(joined)
                    assert target is not None
                    corrections.append((f"{head} {_word(tokens[i + 1])}", target))
                    nxt = tokens[i + 1]
                    out.append(
                        Token(
                            target,
                            TokenKind.WORD,
                            token.start,
                            nxt.end,
                            f"{token.source} {nxt.source}",
                        )
                    )
                    i += 2
                    continue
            if word and word not in vocab and len(word) >= 5:
                target = self._nearest(word)
                beside = [_word(tokens[k]) for k in (i - 1, i + 1) if 0 <= k < len(tokens)]
                if target is not None and not (
                    # «на машине» is a car, not «Марине»; «кошелька андрея» beside a first
                    # name is the surname Vosk misheard.
                    self._a_thing(word)
                    and self._a_name(target)
                    and not any(self._a_given_name(w) for w in beside)
                ):
                    corrections.append((word, target))
                    token = _replace(token, target)
            out.append(token)
            i += 1
        return out, corrections

    def _close(self, joined: str) -> bool:
        """Whether two words said apart, ``joined``, are one letter away from a known word."""
        if len(joined) < 7 or joined in self.vocabulary:
            return False
        near = self._nearest(joined)
        return near is not None and Levenshtein.distance(joined, near) <= 1

    def near_vocabulary(self, word: str) -> bool:
        """Whether a word is one letter (two for long words) away from a known word."""
        cached = self._near_cache.get(word)
        if cached is not None:
            return cached
        limit = 1 if len(word) <= 6 else 2
        found = process.extractOne(
            word,
            self._repair_window(len(word), limit),
            scorer=Levenshtein.distance,
            score_cutoff=limit,
        )
        result = found is not None
        if len(self._near_cache) < _CACHE_LIMIT:
            self._near_cache[word] = result
        return result

    @staticmethod
    def repaired_text(tokens: Sequence[Token]) -> str:
        """The request again as words, repaired words in place and numbers as they were said
        (so that a second normalisation reads "сто пятьдесят восемь" as one number)."""
        return " ".join(t.text if t.kind is TokenKind.WORD else t.source for t in tokens)

    def _nearest(self, word: str) -> str | None:
        if word in self._nearest_cache:
            return self._nearest_cache[word]
        result = self._nearest_uncached(word)
        if len(self._nearest_cache) < _CACHE_LIMIT:
            self._nearest_cache[word] = result
        return result

    def _nearest_uncached(self, word: str) -> str | None:
        limit = 1 if len(word) <= 7 else 2
        found = process.extract(
            word,
            self._repair_window(len(word), limit),
            scorer=Levenshtein.distance,
            score_cutoff=limit,
            limit=3,
        )
        if not found:
            return None
        best = sorted(c for c, score, _ in found if score == found[0][1])
        if len(best) > 1:
            # Equally close words are a safe repair only when they are forms of one word
            # ("бригади" → бригаде / бригады, "пятай" → пятой / пятая); otherwise the slip is
            # ambiguous.
            stem = _common_prefix(best)
            values = {parse_number(c, self._lexicon) for c in best}
            same_number = len(values) == 1 and None not in values
            if len(stem) < max(3 if len(word) <= 5 else 4, len(word) - 2) and not same_number:
                return None
            best.sort(key=lambda c: (abs(len(c) - len(word)), c))
        candidate = best[0]
        # Speech recognition rarely gets the first sound wrong; a different first letter is
        # more likely a different word than a slip.
        return candidate if candidate[0] == word[0] else None

    def _repair_window(self, length: int, limit: int) -> list[str]:
        """The repair candidates a word of ``length`` letters can be within ``limit`` edits of.

        An edit distance is at least the difference in length, so the words whose length
        differs by more than ``limit`` can never be returned: leaving them out changes no
        result. The window keeps the pool's order, and rapidfuzz breaks ties by position, so
        even equally close candidates come out as from the whole pool.
        """
        return self._repair_windows.get((length, limit), [])

    # ------------------------------------------------------------------ tagging
    def tag(
        self,
        normalized: NormalizedText,
        today: date,
        *,
        corrections: Sequence[tuple[str, str]] = (),
        past: bool = False,
    ) -> Tagged:
        """Find, resolve and replace every entity in a normalised (and repaired) request.

        ``corrections`` are the repairs already applied (see `repair`), kept for diagnostics;
        ``past``: the request asks about the past (see `bot.nlu.dates.find_dates`).
        """
        tokens = list(normalized.tokens)
        taken: list[bool] = [False] * len(tokens)
        mentions: list[Mention] = []
        # What the repair made of each word (`_longer_name` judges the word actually said).
        self._said_as = {new: old for old, new in corrections}

        def claim(mention: Mention) -> None:
            mentions.append(mention)
            for k in range(mention.start, mention.end):
                taken[k] = True

        words = [_word(t) for t in tokens]
        for mention in self._impossible_dates(tokens, words, taken):
            claim(mention)
        for match in self._dates(tokens, today, past=past):
            if not any(taken[match.start : match.end]):
                claim(Mention("date", match.start, match.end, match.text, value=match))
        for mention in self._companies(tokens, words, taken, cue_required=True):
            claim(mention)
        for mention in self._unknown_companies(tokens, words, taken, streets_only=True):
            claim(mention)
        for mention in self._brigades(tokens, words, taken):
            claim(mention)
        for mention in self._addresses(tokens, words, taken):
            claim(mention)
        for mention in self._companies(tokens, words, taken, cue_required=False):
            claim(mention)
        for mention in self._people(tokens, words, taken):
            claim(mention)
        for mention in self._positions(tokens, words, taken, mentions):
            claim(mention)
        for mention in self._departments(tokens, words, taken):
            claim(mention)
        for mention in self._filters(tokens, words, taken):
            claim(mention)
        for mention in self._fuzzy(tokens, words, taken):
            claim(mention)
        for mention in self._unknown_companies(tokens, words, taken, streets_only=False):
            claim(mention)
        mentions.sort(key=lambda m: m.start)
        for mention in mentions:
            mention.start = self._absorb(words, taken, mention)
            self._negate(tokens, words, taken, mention)
        text = self._render(tokens, mentions)
        unknown = [
            w for i, w in enumerate(words) if w and not taken[i] and w not in self.vocabulary
        ]
        free = [i for i in range(len(tokens)) if not taken[i]]
        texts = self._text_filters(tokens, words, taken)
        return Tagged(tokens, mentions, text, list(corrections), unknown, texts, free)

    # ------------------------------------------------------------------ house filters
    def _filters(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool]
    ) -> list[Mention]:
        """Towns, kinds of houses and bounded counts: «в кондрово», «панельных»,
        «по 9 этажей», «девятиэтажки», «больше 100 квартир» (vocabulary in filters.yaml)."""
        data = FILTERS
        found: list[Mention] = []
        types = self._house_types
        request_words = set(words)
        for phrase in data["no_company"]:
            parts = tuple(phrase.split())
            if parts and parts[0] not in request_words:
                continue  # its first word is not in the request: it cannot match anywhere
            for i in range(len(words) - len(parts) + 1):
                span = range(i, i + len(parts))
                if tuple(words[i : i + len(parts)]) == parts and not any(taken[k] for k in span):
                    text = " ".join(tokens[k].source for k in span)
                    found.append(Mention("no_company", i, i + len(parts), text, value=True))
                    for k in span:
                        taken[k] = True
        for key, bound in (("with_lifts", (1, None)), ("without_lifts", (None, 0))):
            for phrase in data[key]:
                parts = tuple(phrase.split())
                if parts and parts[0] not in request_words:
                    continue
                for i in range(len(words) - len(parts) + 1):
                    span = range(i, i + len(parts))
                    if tuple(words[i : i + len(parts)]) == parts and not any(
                        taken[k] for k in span
                    ):
                        text = " ".join(tokens[k].source for k in span)
                        found.append(Mention("lifts", i, i + len(parts), text, value=bound))
                        for k in span:
                            taken[k] = True
        for i, word in enumerate(words):
            if taken[i] or not word:
                continue
            if word in self.catalog.towns:
                found.append(
                    Mention("town", i, i + 1, tokens[i].source, value=self.catalog.towns[word])
                )
                taken[i] = True
                continue
            # `str.startswith` with a tuple (in C) says whether any stem begins the word; only
            # then is the first one in the table's order looked for.
            stem = (
                next((k for k in data["house_types"] if word.startswith(k)), None)
                if word.startswith(self._house_type_stems)
                else None
            )
            if stem is not None:
                option = data["house_types"][stem]
                kind_of = next((t for t in types if t.lower().startswith(option)), None)
                mention = Mention("house_type", i, i + 1, tokens[i].source, value=kind_of)
                mention.missing = kind_of is None
                mention.near = list(types) if kind_of is None else []
                found.append(mention)
                taken[i] = True
                continue
            metric = self._bounded_noun(word) if word.startswith(self._bounded_stems) else None
            compound = (
                next(
                    (
                        (n, rest)
                        for prefix, n in data["compound_numbers"].items()
                        if word.startswith(prefix) and (rest := word[len(prefix) :])
                    ),
                    None,
                )
                if word.startswith(self._compound_prefixes)
                else None
            )
            if compound is not None and self._bounded_noun(compound[1]) is not None:
                name = self._bounded_noun(compound[1])
                assert name is not None
                found.append(
                    Mention(name, i, i + 1, tokens[i].source, value=(compound[0], compound[0]))
                )
                taken[i] = True
                continue
            after = self._bound_after(tokens, words, taken, i) if metric else None
            if metric is not None and after is not None:
                # "подъездов больше шести", "с числом этажей от 9": noun, comparison, number.
                end, limits = after
                text = " ".join(t.source for t in tokens[i:end])
                found.append(Mention(metric, i, end, text, value=limits))
                for k in range(i, end):
                    taken[k] = True
                continue
            if metric is None or i == 0 or taken[i - 1] or not tokens[i - 1].is_number:
                continue
            said = tokens[i - 1].value
            if said is None or tokens[i - 1].kind is not TokenKind.CARDINAL:
                continue
            start = i - 1
            low: int | None = said
            high: int | None = said
            ranged = (
                _range_start(tokens, words, taken, start - 1)
                if start >= 1 and words[start - 1] in _RANGE_TO and not taken[start - 1]
                else None
            )
            if ranged is not None:
                # «от 100 до 200 квартир», «с 5 по 9 этаж»: both ends of the range.
                start, low = ranged
            for phrase, kind in () if ranged is not None else _BOUND_PHRASES:
                n = len(phrase)
                if (
                    start - n >= 0
                    and tuple(words[start - n : start]) == phrase
                    and not any(taken[start - n : start])
                ):
                    start -= n
                    low, high = {
                        "at_least": (said, None),
                        "more_than": (said + 1, None),
                        "at_most": (None, said),
                        "less_than": (None, said - 1),
                    }[kind]
                    break
            end = i + 1
            if low == high:
                # «200 квартир и больше»: the bound follows the noun; without taking it, the
                # count would be of exactly 200 — a different set than asked.
                for phrase, kind in _BOUND_AFTER_PHRASES:
                    n = len(phrase)
                    if tuple(words[end : end + n]) == phrase and not any(taken[end : end + n]):
                        low, high = (said, None) if kind == "at_least_after" else (None, said)
                        end += n
                        break
            text = " ".join(t.source for t in tokens[start:end])
            found.append(Mention(metric, start, end, text, value=(low, high)))
            for k in range(start, end):
                taken[k] = True
        return found

    @staticmethod
    def _bound_after(
        tokens: Sequence[Token], words: Sequence[str], taken: Sequence[bool], i: int
    ) -> tuple[int, tuple[int | None, int | None]] | None:
        """A comparison and a number right after a counted noun: (end, (min, max))."""
        for phrase, kind in _BOUND_PHRASES:
            n = len(phrase)
            j = i + 1 + n
            if (
                j < len(tokens)
                and tuple(words[i + 1 : j]) == phrase
                and not any(taken[i + 1 : j + 1])
                and tokens[j].kind is TokenKind.CARDINAL
                and tokens[j].value is not None
            ):
                said = tokens[j].value
                assert said is not None
                bound: tuple[int | None, int | None] = {
                    "at_least": (said, None),
                    "more_than": (said + 1, None),
                    "at_most": (None, said),
                    "less_than": (None, said - 1),
                }[kind]
                closing = _range_end(tokens, words, taken, j + 1) if bound[1] is None else None
                if closing is not None:
                    # «квартир от 100 до 200»: the upper end too.
                    return closing[0], (bound[0], closing[1])
                return j + 1, bound
        return None

    @staticmethod
    def _bounded_noun(word: str) -> str | None:
        for name, stems in FILTERS["bounded"].items():
            if any(word.startswith(stem) for stem in stems):
                return str(name)
        return None

    @staticmethod
    def _text_filters(
        tokens: Sequence[Token], words: Sequence[str], taken: Sequence[bool]
    ) -> list[Mention]:
        found = []
        for i, word in enumerate(words):
            if taken[i] or not word:
                continue
            for subject, table in FILTERS["text_filters"].items():
                stem = next((k for k in table if word.startswith(k)), None)
                if stem is not None:
                    mention = Mention("text", i, i + 1, tokens[i].source, value=table[stem])
                    mention.near = [subject]  # "tasks" or "events": whose titles it names
                    found.append(mention)
                    break
        return found

    @staticmethod
    def _negate(
        tokens: Sequence[Token], words: list[str], taken: list[bool], mention: Mention
    ) -> None:
        """Mark a mention said after a negation («не в кондрово», «кроме третьей бригады»)
        and take the negation with it, so the answer can name what it could not apply.
        Conditions that carry their own negation («не указана УК», «без лифта») are not."""
        if mention.kind not in _NEGATABLE:
            return
        for phrase in _NEGATIONS:
            n = len(phrase)
            if tuple(words[mention.start : mention.start + n]) == phrase:
                # «кроме» is a preposition too: `_absorb` already took it into the mention.
                mention.negated = True
                mention.text = " ".join(t.source for t in tokens[mention.start : mention.end])
                return
            start = mention.start - n
            if start >= 0 and tuple(words[start : mention.start]) == phrase:
                if any(taken[start : mention.start]):
                    return
                mention.negated = True
                for k in range(start, mention.start):
                    taken[k] = True
                mention.start = start
                mention.text = " ".join(t.source for t in tokens[start : mention.end])
                return

    def _absorb(self, words: list[str], taken: list[bool], mention: Mention) -> int:
        """Extend a mention leftwards over its preposition and type words ("на улице")."""
        start = mention.start
        absorbable = set(PREPOSITIONS)
        if mention.kind in ("house", "street"):
            absorbable |= _STREET_TYPES | _HOUSE_WORDS
        if mention.kind == "person":
            absorbable |= _PERSON_TITLES
        if mention.kind == "company":
            absorbable |= COMPANY_CUES
        while start > 0 and not taken[start - 1] and words[start - 1] in absorbable:
            start -= 1
            taken[start] = True
            if words[start] in PREPOSITIONS:
                break
        return start

    @staticmethod
    def _render(tokens: Sequence[Token], mentions: Sequence[Mention]) -> str:
        out: list[str] = []
        i = 0
        for mention in mentions:
            out.extend(t.text for t in tokens[i : mention.start])
            out.append(PLACEHOLDERS[mention.kind])
            i = mention.end
        out.extend(t.text for t in tokens[i:])
        return " ".join(out)

    # ------------------------------------------------------------------ dates
    @staticmethod
    def _dates(tokens: Sequence[Token], today: date, *, past: bool = False) -> list[DateMatch]:
        normalized = NormalizedText(
            text=" ".join(t.text for t in tokens),
            tokens=tuple(tokens),
            words=tuple(t.source for t in tokens),
        )
        found = [m for m in find_dates(normalized, today, past=past) if m.range is not None]
        return _join_ranges(tokens, found, today)

    @staticmethod
    def _impossible_dates(
        tokens: Sequence[Token], words: Sequence[str], taken: Sequence[bool]
    ) -> list[Mention]:
        """ "31 февраля", "32 декабря": a day and a month that make no date. Said, so it must
        be answered ("такой даты нет"), never silently widened or dropped."""
        found = []
        for i in range(len(tokens) - 1):
            token = tokens[i]
            month = MONTH_GENITIVE.get(words[i + 1])
            if taken[i] or month is None or token.value is None or not token.is_number:
                continue
            try:
                date(2024, month, token.value)  # 2024: a leap year allows 29 февраля
            except ValueError:
                text = f"{token.source} {tokens[i + 1].source}"
                found.append(Mention("date", i, i + 2, text, missing=True))
        return found

    # ------------------------------------------------------------------ brigades
    def _brigades(
        self, tokens: Sequence[Token], words: Sequence[str], taken: Sequence[bool]
    ) -> list[Mention]:
        found: list[Mention] = []
        used: set[int] = set()
        for i, word in enumerate(words):
            if word not in BRIGADE_WORDS or taken[i]:
                continue
            number_at: int | None = None
            # "третьей бригады", "3 бригада": the ordinal in front.
            if (
                i > 0
                and not taken[i - 1]
                and i - 1 not in used
                and self._brigade_number(tokens[i - 1])
            ):
                number_at = i - 1
            else:
                j = i + 1
                if j < len(words) and (words[j] in _NUMBER_WORDS or words[j] in ("в", "во")):
                    j += 1
                if j < len(tokens) and not taken[j] and self._brigade_number(tokens[j]):
                    number_at = j
            clipped = None
            if number_at is None:
                # «трет бригада»: a clipped ordinal beside the brigade word.
                for k in (i - 1, i + 1):
                    if 0 <= k < len(words) and not taken[k] and k not in used:
                        clipped = _clipped_ordinal(tokens[k])
                        if clipped is not None:
                            number_at = k
                            break
            if number_at is None:
                continue
            value = tokens[number_at].value if clipped is None else clipped
            assert value is not None
            start, end = min(i, number_at), max(i, number_at) + 1
            used.update(range(start, end))
            text = " ".join(t.source for t in tokens[start:end])
            found.append(Mention("brigade", start, end, text, value=value))
        # "скинь дома третьей", "кто работает в четвертой": a feminine ordinal on its own is
        # a brigade (бригада is the only feminine thing counted this way), unless a counted
        # noun follows it ("второй подъезд").
        for i, token in enumerate(tokens):
            if taken[i] or i in used or token.value is None or not 1 <= token.value <= 20:
                continue
            after_preposition = i > 0 and words[i - 1] in ("у", "в", "во", "из", "для")
            feminine = token.kind is TokenKind.ORDINAL and (
                token.source.endswith(_FEMININE_ENDINGS)
                or token.source[:1].isdigit()
                or after_preposition  # "кто бригадир у пятый": Vosk lost the ending
            )
            colloquial = token.kind is TokenKind.NOUN  # "тройка", "пятерка"
            following = words[i + 1] if i + 1 < len(words) else ""
            if (feminine or colloquial) and following not in _COUNTED_NOUNS:
                found.append(Mention("brigade", i, i + 1, token.source, value=token.value))
        return found

    @staticmethod
    def _brigade_number(token: Token) -> bool:
        return (
            token.kind in (TokenKind.CARDINAL, TokenKind.ORDINAL, TokenKind.NOUN)
            and token.value is not None
            and 0 <= token.value <= 99
        )

    # ------------------------------------------------------------------ addresses
    def _addresses(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool]
    ) -> list[Mention]:
        found: list[Mention] = []
        catalog = self.catalog
        i = 0
        while i < len(tokens):
            if taken[i] or not words[i]:
                i += 1
                continue
            match = self._longest(words, taken, i, catalog.street_phrases)
            if match is None:
                i += 1
                continue
            end, keys = match
            town, town_span = self._town_near(words, taken, i, end)
            if town is not None:
                keys = {k for k in keys if k[0] == town} or keys
            start = min([i, *town_span]) if town_span else i
            number, num_index, stop = self._number_near(tokens, words, taken, start, end)
            if town_span:
                stop = max(stop, *(k + 1 for k in town_span))
            if number is not None:
                assert num_index is not None
                span_start = min(start, num_index)
                found.append(self._house_mention(tokens, span_start, stop, keys, number))
                for k in range(span_start, stop):
                    taken[k] = True
            else:
                streets = sorted((catalog.streets[k] for k in keys), key=lambda e: e.label)
                text = " ".join(t.source for t in tokens[start:stop])
                mention = Mention("street", start, stop, text)
                if len(streets) == 1:
                    mention.value = streets[0]
                else:
                    mention.choices = list(streets)
                found.append(mention)
                for k in range(start, stop):
                    taken[k] = True
            i = stop
        return found

    def _house_mention(
        self,
        tokens: Sequence[Token],
        start: int,
        end: int,
        keys: Iterable[tuple[str, str]],
        number: str,
    ) -> Mention:
        text = " ".join(t.source for t in tokens[start:end])
        keys = list(keys)
        streets = self.catalog.streets_with_number(keys, number)
        mention = Mention("house", start, end, text)
        houses = [h for e in streets if (h := self.snapshot.house_at(e.key, number))]
        houses.sort(key=lambda h: (not h.address.in_home_town, h.address.title))
        wanted = normalize_number(number)
        closed = next(
            (
                h
                for h in self.snapshot.closed_houses
                if (h.address.town, h.address.street_key) in keys
                and h.address.number_key == wanted
            ),
            None,
        )
        # A closed contract of that very number is said as closed, before any variant.
        variants = [] if houses or closed else self._number_variants(keys, number)
        if len(houses) == 1:
            mention.value = houses[0]
        elif houses:
            mention.choices = list(houses)
        elif variants:
            # «Майская 23» when only 23/2 and 23к1 exist: one of them is meant, so ask which —
            # the same question as for a street in two towns, never a guess.
            mention.choices = variants
        else:
            mention.missing = True
            mention.near = sorted((self.catalog.streets[k] for k in keys), key=lambda e: e.label)
            mention.value = number
            mention.closed = closed
        return mention

    def _number_variants(self, keys: Sequence[tuple[str, str]], number: str) -> list[House]:
        """Houses numbered ``number`` plus a letter, building or fraction («23» → 23/2, 23к1)."""
        if not number.isdigit():
            return []
        found = []
        for key in keys:
            entry = self.catalog.streets.get(key)
            if entry is None:
                continue
            for candidate in sorted(entry.numbers):
                rest = candidate[len(number) :]
                if candidate.startswith(number) and rest and not rest[0].isdigit():
                    house = self.snapshot.house_at(key, candidate)
                    if house is not None:
                        found.append(house)
        return sorted(found, key=lambda h: h.address.title)

    @staticmethod
    def _longest(
        words: Sequence[str],
        taken: Sequence[bool],
        i: int,
        table: dict[tuple[str, ...], set[Any]],
        max_len: int = 4,
    ) -> tuple[int, set[Any]] | None:
        for length in range(min(max_len, len(words) - i), 0, -1):
            if any(taken[i : i + length]) or not all(words[i : i + length]):
                continue
            phrase = tuple(words[i : i + length])
            if phrase in table:
                return i + length, set(table[phrase])
        return None

    def _town_near(
        self, words: Sequence[str], taken: Sequence[bool], start: int, end: int
    ) -> tuple[str | None, list[int]]:
        towns = self.catalog.towns
        for k in (start - 1, start - 2):
            if k >= 0 and not taken[k] and words[k] in towns:
                return towns[words[k]], list(range(k, start))
        for k in (end, end + 1, end + 2, end + 3):
            if k < len(words) and not taken[k] and words[k] in towns:
                return towns[words[k]], [k]
        return None, []

    def _number_near(
        self,
        tokens: Sequence[Token],
        words: Sequence[str],
        taken: Sequence[bool],
        start: int,
        end: int,
    ) -> tuple[str | None, int | None, int]:
        """A house number after the street ("ленина 5", "ленина дом 5") or before it
        ("дом 5 по ленина"); returns (number, its index, end of the span)."""
        j = end
        while j < len(tokens) and not taken[j] and words[j] in (_HOUSE_WORDS | _NUMBER_WORDS):
            j += 1
        if j < len(tokens) and not taken[j]:
            number = _number_text(tokens[j])
            if number is not None:
                letter = words[j + 1] if j + 1 < len(words) else ""
                if len(letter) == 1 and letter in "абвгдеж" and number.isdigit():
                    # "шестьдесят четыре а сколько": "а" may be the house's letter or "and".
                    keys = self._longest(words, taken, start, self.catalog.street_phrases)
                    streets = [self.catalog.streets[k] for k in keys[1]] if keys else []
                    lettered = number + letter
                    if any(lettered in e.numbers for e in streets) and not any(
                        number in e.numbers for e in streets
                    ):
                        return lettered, j, j + 2
                return number, j, j + 1
        k = start - 1
        skippable = PREPOSITIONS | _STREET_TYPES | _HOUSE_WORDS
        while k >= 0 and not taken[k] and words[k] in skippable:
            k -= 1
        if k >= 0 and not taken[k]:
            number = _number_text(tokens[k])
            before = words[k - 1] if k >= 1 and not taken[k - 1] else ""
            after = words[k + 1] if k + 1 < len(words) else ""
            # A number in front of the street is a house number when something says so:
            # "дом 5 по ленина", "5 дом на ленина", "№ 5 на ленина", or a number that can
            # only be an address ("47к3 на хрустальной").
            if number is not None and (
                before in _HOUSE_WORDS
                or before in _NUMBER_WORDS
                or after in _HOUSE_WORDS
                or tokens[k].kind is TokenKind.HOUSE
                or (tokens[k].kind is TokenKind.CARDINAL and after in PREPOSITIONS)
                or (tokens[k].kind is TokenKind.CARDINAL and k == start - 1)
            ):
                first = k - 1 if before in (_HOUSE_WORDS | _NUMBER_WORDS) else k
                return number, first, end
        return None, None, end

    # ------------------------------------------------------------------ companies
    def _companies(
        self,
        tokens: Sequence[Token],
        words: Sequence[str],
        taken: list[bool],
        *,
        cue_required: bool,
    ) -> list[Mention]:
        found: list[Mention] = []
        catalog = self.catalog
        # The words as company names are looked up (numbers too): the same at every position.
        phrase_words = [w or (_number_text(t) or "") for w, t in zip(words, tokens, strict=True)]
        i = 0
        while i < len(tokens):
            if taken[i] or not (words[i] or _number_text(tokens[i])):
                i += 1
                continue
            match = self._longest(phrase_words, taken, i, catalog.company_phrases)
            if match is None:
                i += 1
                continue
            end, ids = match
            cue = self._cue_before(words, taken, i)
            if cue and i > 0 and words[i - 1] in ("в", "во") and words[i] in catalog.towns:
                # «компании работают в кондрово»: a town after «в», whatever the cue before.
                cue = False
            overlaps_street = self._longest(words, taken, i, catalog.street_phrases) is not None
            needs_cue = overlaps_street or any(c in catalog.company_needs_cue for c in ids)
            # First pass: names led by "УК"/"ТСЖ"/…; second pass: names that need no cue
            # (not a common phrase, not the start of a street name).
            if (cue_required and not cue) or (not cue_required and needs_cue):
                i += 1
                continue
            companies = sorted((catalog.companies[c] for c in ids), key=lambda c: c.name)
            longer = end
            while (
                cue
                and longer < min(len(words), end + 2)
                and self._longer_name(words, taken, longer)
            ):
                longer += 1
            if longer > end:
                # «ук солнечная долина» is not «УК Солнечный»: the name said goes on past the
                # company's, so it names another one — not found, with this one as nearest.
                text = self._said_text(tokens, words, i, longer)
                found.append(Mention("company", i, longer, text, missing=True, near=companies))
                for k in range(i, longer):
                    taken[k] = True
                i = longer
                continue
            text = " ".join(t.source for t in tokens[i:end])
            mention = Mention("company", i, end, text)
            if len(companies) == 1:
                mention.value = companies[0]
            else:
                mention.choices = list(companies)
            found.append(mention)
            for k in range(i, end):
                taken[k] = True
            i = end
        return found

    def _unknown_companies(
        self,
        tokens: Sequence[Token],
        words: Sequence[str],
        taken: list[bool],
        *,
        streets_only: bool,
    ) -> list[Mention]:
        """A name right after «УК» that is no company: «ук чистый город», «у УК «Центральная»»
        (a street of that name exists, but the cue says a company is meant). Said as not found
        with the nearest companies, never read as a street or dropped. Run twice: before
        streets are read (``streets_only``: only a street's name after the cue), and after
        every fuzzy match, so that a misheard company («у к жил ком сервис») is found first."""
        found: list[Mention] = []
        for k, cue in enumerate(words):
            if cue not in COMPANY_CUES or taken[k]:
                continue
            start = k + 1
            while start < len(words) and words[start] in COMPANY_CUES and not taken[start]:
                start += 1  # «управляющая компания …»
            end = start
            while end < len(words) and end - start < 4 and self._name_word(words, taken, end):
                end += 1
                if (
                    end + 1 < len(words)
                    and words[end] == "и"
                    and self._name_word(words, taken, end + 1)
                ):
                    end += 1  # «рога и копыта»
            if end == start:
                continue
            street = self._longest(words, taken, start, self.catalog.street_phrases)
            if streets_only and street is None:
                continue
            if street is not None and street[0] < len(tokens) and tokens[street[0]].is_number:
                continue  # «тел ук жукова 56/2»: an address — the house whose УК is asked
            text = " ".join(t.source for t in tokens[start:end])
            phrase = "".join(words[start:end])
            nearest = self._company_scores(phrase)
            near = [self.catalog.companies[c] for _, c in nearest[:3]]
            found.append(Mention("company", start, end, text, missing=True, near=near))
            for i in range(start, end):
                taken[i] = True
        return found

    def _said_text(self, tokens: Sequence[Token], words: Sequence[str], i: int, j: int) -> str:
        """The words of a span as said, before the repair (to quote a name not found)."""
        return " ".join(self._said_as.get(words[k], tokens[k].source) for k in range(i, j))

    def _longer_name(self, words: Sequence[str], taken: Sequence[bool], i: int) -> bool:
        """A word that continues a company's name past the catalog's: a name word the engine
        does not know otherwise (not a surname, street or known word)."""
        said = self._said_as.get(words[i])
        if said is not None and not taken[i]:
            # «ук солнечная долина»: the repair made «должна» of «долина»; the word said is
            # what continues the name.
            parses = self.morph.parse(said)[:1]
            return said not in self.vocabulary and (
                not parses or not parses[0].is_known or parses[0].tag.POS in _NAME_POS
            )
        return (
            self._name_word(words, taken, i)
            and words[i] not in self.vocabulary
            and words[i] not in self.catalog.surnames
            and self._longest(words, taken, i, self.catalog.street_phrases) is None
        )

    def _name_word(self, words: Sequence[str], taken: Sequence[bool], i: int) -> bool:
        """A word that can be part of a company's name: not a question's own word, a
        preposition, a number or a town («все ук в кондрово», «ук калуги»)."""
        word = words[i]
        if not word or taken[i] or word in PREPOSITIONS or word in self.grammar_words:
            return False
        if word in self.catalog.towns:
            return False
        # Names are nouns and adjectives («чистый город», «рога и копыта»), or words the
        # dictionary does not know; «с нами работает» names nothing.
        parses = self.morph.parse(word)[:1] if word.isalpha() else ()
        return not parses or not parses[0].is_known or parses[0].tag.POS in _NAME_POS

    @staticmethod
    def _cue_before(words: Sequence[str], taken: Sequence[bool], i: int) -> bool:
        for k in (i - 1, i - 2, i - 3):
            if k >= 0 and not taken[k] and words[k] in COMPANY_CUES:
                return True
        return False

    # ------------------------------------------------------------------ people
    def _people(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool]
    ) -> list[Mention]:
        found: list[Mention] = []
        catalog = self.catalog
        for i, word in enumerate(words):
            if taken[i] or not word:
                continue
            if word not in catalog.surnames:
                # "телефон дмитрия олеговича": a first name with a patronymic names a person.
                nxt = words[i + 1] if i + 1 < len(words) and not taken[i + 1] else ""
                pair = catalog.first_names.get(word, set()) & catalog.patronymics.get(nxt, set())
                if pair:
                    found.append(self._person_mention(tokens, i, i + 2, pair))
                    taken[i] = taken[i + 1] = True
                elif self._first_name_alone(words, taken, i):
                    # "телефон ларисы": a first name alone — whoever bears it, asked which.
                    found.append(self._person_mention(tokens, i, i + 1, catalog.first_names[word]))
                    taken[i] = True
                elif word in catalog.former_surnames:
                    # A person who has left: known, but not someone to give data about.
                    mention = Mention("person", i, i + 1, tokens[i].source, missing=True)
                    mention.near = sorted(catalog.former[p] for p in catalog.former_surnames[word])
                    found.append(mention)
                    taken[i] = True
                continue
            ids = set(catalog.surnames[word])
            start, end = i, i + 1
            other_name = False
            # A first name and patronymic next to the surname narrow namesakes down.
            for table in (catalog.first_names, catalog.patronymics):
                for k in (end, start - 1):
                    if 0 <= k < len(words) and not taken[k] and words[k] in table:
                        narrowed = ids & table[words[k]]
                        if narrowed:
                            ids = narrowed
                            start, end = min(start, k), max(end, k + 1)
                            break
                        if table is catalog.first_names and words[k] not in self.grammar_words:
                            # «Ковалева Анна» when only Ковалева Любовь works here: another
                            # person, not found — never her data under the name asked.
                            other_name = True
                            start, end = min(start, k), max(end, k + 1)
            if other_name and not (
                ids & catalog.first_names.get(words[start], set())
                or (end - start > 1 and ids & catalog.first_names.get(words[end - 1], set()))
            ):
                mention = Mention(
                    "person",
                    start,
                    end,
                    " ".join(t.source for t in tokens[start:end]),
                    missing=True,
                    reason="other_name",
                )
                mention.near = sorted(catalog.people[p].employee.full_name for p in ids)
                found.append(mention)
                for k in range(start, end):
                    taken[k] = True
                continue
            mention = self._person_mention(tokens, start, end, ids)
            if (start, end) == (i, i + 1) and self._his_not_hers(words, i, ids):
                # Asked back with the one who exists, rather than answered for her.
                mention.choices, mention.value = [mention.value], None
            found.append(mention)
            for k in range(start, end):
                taken[k] = True
        return found

    def _first_name_alone(self, words: Sequence[str], taken: Sequence[bool], i: int) -> bool:
        """A first name with no surname beside it, that can only be a name («ларисы»,
        «дмитрия»; not «вера» or «любовь», which are words too)."""
        word = words[i]
        if word not in self.catalog.first_names or word in self.grammar_words:
            return False
        beside = [words[k] for k in (i - 1, i + 1) if 0 <= k < len(words) and not taken[k]]
        if any(w and w not in self.grammar_words and w not in PREPOSITIONS for w in beside):
            return False  # a surname beside it, perhaps misheard («обрамовой ларисы»)
        parses = self.morph.parse(word)[:1]
        if not parses or "Name" not in parses[0].tag:
            return False
        if "nomn" not in parses[0].tag:
            return True  # «телефон ларисы» asks about her
        # «это Мария из офиса» introduces the speaker; «в какой бригаде Оксана» asks about
        # her: a nominative name is someone asked about only in a question, not after «это».
        before = words[i - 1] if i > 0 else ""
        return before not in FILTERS["self_naming"] and any(
            w in FILTERS["question_words"] for w in words
        )

    def _his_not_hers(self, words: Sequence[str], i: int, ids: set[str]) -> bool:
        """ "бригады Смирнова", "у Смирнова": after a word that governs the genitive,
        «Смирнова» is a man's surname (Смирнов), not the nominative of a woman's — when only
        the woman exists, the man said is not her."""
        word = words[i]
        if i == 0 or not word.endswith(_FEMININE_LIKE_GENITIVE):
            return False
        people = [self.catalog.people[p] for p in ids]
        if len(people) != 1 or people[0].gender != "f":
            return False
        if normalize_name(people[0].employee.last_name) != word:
            return False
        # Only where the genitive is certain: «в какой бригаде Абрамова», «сотрудник Мухина»
        # have her in the nominative.
        return words[i - 1] in _GENITIVE_PREPOSITIONS or words[i - 1] in _POSSESSED

    def _person_mention(
        self,
        tokens: Sequence[Token],
        start: int,
        end: int,
        ids: Iterable[str],
        *,
        fuzzy: bool = False,
    ) -> Mention:
        people = sorted(
            (self.catalog.people[p].employee for p in ids), key=lambda e: (e.full_name, e.id)
        )
        text = " ".join(t.source for t in tokens[start:end])
        mention = Mention("person", start, end, text, fuzzy=fuzzy)
        if len(people) == 1:
            mention.value = people[0]
        else:
            mention.choices = list(people)
        return mention

    # ------------------------------------------------------------------ positions
    def _positions(
        self,
        tokens: Sequence[Token],
        words: Sequence[str],
        taken: list[bool],
        mentions: Sequence[Mention],
    ) -> list[Mention]:
        found: list[Mention] = []
        brigade_spans = [(m.start, m.end) for m in mentions if m.kind == "brigade"]
        for i in range(len(words)):
            if taken[i] or not words[i]:
                continue
            match = self._longest(words, taken, i, self._position_table)
            if match is None:
                continue
            end, values = match
            position = next(iter(values))
            # "бригадир третьей бригады" asks for the brigade's head, not a list of brigadiers.
            near_brigade = any(s - 2 <= end <= s or e <= i <= e + 1 for s, e in brigade_spans)
            if near_brigade and words[i].startswith("бригадир"):
                continue
            text = " ".join(t.source for t in tokens[i:end])
            found.append(Mention("position", i, end, text, value=position))
            for k in range(i, end):
                taken[k] = True
        return found

    def _departments(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool]
    ) -> list[Mention]:
        """«в офисе», «на складе»: a department by name (not a brigade, not the company)."""
        found: list[Mention] = []
        if any(w.startswith(tuple(FILTERS["company_words"])) for w in words if w):
            return found  # «адрес офиса УК Гарант»: the УК's office, not ours
        table = self._department_table
        for i in range(len(words)):
            if taken[i] or not words[i]:
                continue
            match = self._longest(words, taken, i, table)
            if match is None:
                continue
            end, values = match
            department = self.snapshot.departments.get(next(iter(values)))
            text = " ".join(t.source for t in tokens[i:end])
            found.append(Mention("department", i, end, text, value=department))
            for k in range(i, end):
                taken[k] = True
        return found

    # ------------------------------------------------------------------ fuzzy
    def _fuzzy(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool]
    ) -> list[Mention]:
        """Names that matched nothing exactly: misheard streets, companies, surnames."""
        found: list[Mention] = []
        vocab = self.vocabulary
        n = len(tokens)
        i = 0
        while i < n:
            after_cue = i > 0 and words[i - 1] in COMPANY_CUES
            if taken[i] or not words[i] or words[i] in PREPOSITIONS:
                i += 1
                continue
            if words[i] in vocab and not after_cue:
                i += 1
                continue
            # Up to three unknown-ish words: "моя ковского", "жил ком сервис".
            j = i
            while (
                j < n and j - i < 3 and words[j] and not taken[j] and words[j] not in PREPOSITIONS
            ):
                j += 1
            mention = self._street_prefix(tokens, words, taken, i) or self._fuzzy_window(
                tokens, words, taken, i, j
            )
            if mention is None:
                i += 1
                continue
            if mention.kind == "company" and after_cue:
                longer = mention.end
                while longer < min(n, mention.end + 2) and self._longer_name(words, taken, longer):
                    longer += 1
                if longer > mention.end:
                    # As for an exact name (`_companies`): the name said goes on, so it is
                    # another company — not found, the one that looked alike as nearest.
                    near = [mention.value] if mention.value is not None else mention.choices
                    text = self._said_text(tokens, words, mention.start, longer)
                    mention = Mention("company", mention.start, longer, text, missing=True)
                    mention.near = list(near)
            found.append(mention)
            for k in range(mention.start, mention.end):
                taken[k] = True
            i = mention.end
        return found

    def _street_prefix(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool], i: int
    ) -> Mention | None:
        """ "чиж 18": a typed shorthand that begins exactly one street with that house."""
        word = words[i]
        if len(word) < 3:
            return None
        number, num_index, stop = self._number_near(tokens, words, taken, i, i + 1)
        if number is None or num_index is None or num_index < i:
            return None
        streets = [
            e for e in self.catalog.streets.values()
            if e.core.replace(" ", "").startswith(word) and number in e.numbers
        ]  # fmt: skip
        if len(streets) != 1:
            return None
        mention = self._house_mention(tokens, i, stop, [streets[0].key], number)
        mention.fuzzy = True
        return mention

    def _fuzzy_window(
        self, tokens: Sequence[Token], words: Sequence[str], taken: list[bool], i: int, j: int
    ) -> Mention | None:
        for end in range(j, i, -1):
            phrase = " ".join(words[i:end])
            if len(phrase.replace(" ", "")) < 4:
                continue
            number, num_index, stop = self._number_near(tokens, words, taken, i, end)
            if number is not None:
                mention = self._fuzzy_street(tokens, i, stop, number=number, phrase=phrase)
                if mention is not None:
                    if num_index is not None and num_index < i:
                        mention.start = num_index
                    return mention
            company = self._fuzzy_company(phrase, cue=self._cue_before(words, taken, i))
            if company:
                mention = Mention("company", i, end, phrase, fuzzy=True)
                if len(company) == 1:
                    mention.value = self.catalog.companies[company[0]]
                else:
                    mention.choices = [self.catalog.companies[c] for c in company]
                return mention
            if end - i == 1 and not self._a_thing(phrase):
                ids = self._fuzzy_surname(phrase)
                if ids:
                    return self._person_mention(tokens, i, end, ids, fuzzy=True)
            if number is None and end - i <= 2:
                street = self._fuzzy_street_only(phrase)
                if street:
                    mention = Mention("street", i, end, phrase, fuzzy=True)
                    if len(street) == 1:
                        mention.value = street[0]
                    else:
                        mention.choices = street
                    return mention
        return None

    def _street_scores(self, phrase: str) -> tuple[tuple[float, StreetEntry], ...]:
        """How close a phrase is to every street (spelling and sound), best first.

        A long request tags its sentences for the aside remover and then the whole text, so
        the same phrase is scored again; the result depends on the phrase and this tagger's
        catalog only, so it is remembered (as `_company_scores`)."""
        found = self._street_score_cache.get(phrase)
        if found is not None:
            return found
        plain = phrase.replace(" ", "")
        key = phonetic_key(phrase)
        scored = []
        for _key, core, entry in self._street_cores:
            text_score = Levenshtein.normalized_similarity(plain, core) * 100
            sound_score = Levenshtein.normalized_similarity(key, entry.phonetic) * 100
            scored.append(((text_score + sound_score) / 2, entry))
        scored.sort(key=lambda s: -s[0])
        found = tuple(scored)
        if len(self._street_score_cache) < _CACHE_LIMIT:
            self._street_score_cache[phrase] = found
        return found

    def _fuzzy_street(
        self, tokens: Sequence[Token], start: int, stop: int, *, number: str, phrase: str
    ) -> Mention | None:
        all_scored = self._street_scores(phrase)
        scored = [(s, e) for s, e in all_scored if s >= 75]
        if not scored:
            # "чижевский 15к2": a looser match counts when the house number exists on exactly
            # one of the streets it could be — the number confirms the street.
            loose = [e for s, e in all_scored if s >= 62 and number in e.numbers]
            if len(loose) != 1:
                return None
            mention = self._house_mention(tokens, start, stop, [loose[0].key], number)
            mention.fuzzy = True
            return mention
        best = scored[0][0]
        close = [e for s, e in scored if best - s < 6]
        with_number = [e for e in close if number in e.numbers]
        pool = with_number or close
        mention = self._house_mention(tokens, start, stop, [e.key for e in pool], number)
        mention.fuzzy = True
        if mention.missing and best < 85:
            return None
        return mention

    def _fuzzy_street_only(self, phrase: str) -> list[StreetEntry]:
        scored = [(s, e) for s, e in self._street_scores(phrase) if s >= 85]
        if not scored:
            return []
        best = scored[0][0]
        return [e for s, e in scored if best - s < 4]

    def _company_scores(self, phrase: str) -> tuple[tuple[float, str], ...]:
        """`similarity` of a phrase to every company's core, best first (ties by id).

        Scoring every company costs ~0.1 ms a phrase and the same phrases recur; the result
        depends on the phrase and this tagger's catalog only, so it is remembered."""
        found = self._company_score_cache.get(phrase)
        if found is None:
            found = tuple(
                sorted(
                    ((similarity(phrase, core), cid) for cid, core in self._company_cores.items()),
                    reverse=True,
                )
            )
            if len(self._company_score_cache) < _CACHE_LIMIT:
                self._company_score_cache[phrase] = found
        return found

    def _fuzzy_company(self, phrase: str, *, cue: bool) -> list[str]:
        plain = phrase.replace(" ", "")
        threshold = 80.0 if cue else 88.0
        scored = self._company_scores(plain)
        if not scored or scored[0][0] < threshold:
            return []
        best = scored[0][0]
        ids = [cid for s, cid in scored if best - s < 3]
        if not cue and any(c in self.catalog.company_needs_cue for c in ids):
            return []
        return ids

    def near_surnames(self, word: str, limit: int = 3) -> list[str]:
        """Full names of the people whose surname sounds closest to a word (for "not found")."""
        found = process.extract(
            word, self._surname_pool, scorer=lambda a, b, **_: similarity(a, b), limit=12
        )
        names: list[str] = []
        for form, score, _ in found:
            if score < 60:
                break
            for pid in sorted(self.catalog.surnames[form]):
                name = self.catalog.people[pid].employee.full_name
                if name not in names:
                    names.append(name)
        return names[:limit]

    def _a_thing(self, word: str) -> bool:
        """A dictionary word for a thing («машине», «работу»): never a misheard name.

        «сколько ехать до москвы на машине» sounds like «марине», but pymorphy knows the word
        as an inanimate noun; guessing a person from it would answer a question nobody asked.
        """
        parses = self.morph.parse(word)[:1]
        if not parses or not parses[0].is_known:
            return False
        tag = parses[0].tag
        return "inan" in tag and not ({"Name", "Surn", "Patr"} & tag.grammemes)

    def _a_name(self, word: str) -> bool:
        """A form of someone's first name, patronymic or surname in the catalog."""
        catalog = self.catalog
        return (
            word in catalog.first_names
            or word in catalog.patronymics
            or (word in catalog.surnames)
        )

    def _a_given_name(self, word: str) -> bool:
        """A form of someone's first name or patronymic in the catalog."""
        return word in self.catalog.first_names or word in self.catalog.patronymics

    def _fuzzy_surname(self, word: str) -> set[str]:
        """The people whose surname form is most `similar` to a word (score 86 or more)."""
        if len(word) < 5:
            return set()
        plain = plain_text(word)
        key = phonetic_key(word)
        # `similarity` is the mean of the text ratio and the key ratio, and the key ratio is at
        # most 100: a form scores 86 only with a text ratio of 72 or more. The C prefilter (at
        # 71, a margin for rounding) skips the Python work for the other forms, and the
        # survivors get exactly `similarity`'s score (same ratios, same arithmetic).
        candidates = process.extract(
            plain, self._surname_plain, scorer=fuzz.ratio, score_cutoff=71, limit=None
        )
        scored = []
        for _, _, index in candidates:
            score = 0.5 * fuzz.ratio(plain, self._surname_plain[index]) + 0.5 * fuzz.ratio(
                key, self._surname_keys[index]
            )
            if score >= 86:
                scored.append((score, index))
        if not scored:
            return set()
        # Best first, equal scores in pool order, four at most: what rapidfuzz's `extract`
        # returned when it scored every form with `similarity`.
        scored.sort(key=lambda s: (-s[0], s[1]))
        found = scored[:4]
        best = found[0][0]
        ids: set[str] = set()
        for score, index in found:
            if best - score < 3:
                ids |= self.catalog.surnames[self._surname_pool[index]]
        return ids


def _length_windows(pool: Sequence[str]) -> dict[tuple[int, int], list[str]]:
    """For each word length and edit limit (1 or 2), the pool's words whose length is within
    the limit, in the pool's order (see `Tagger._repair_window`)."""
    lengths = {len(w) for w in pool}
    windows: dict[tuple[int, int], list[str]] = {}
    for length in range(1, max(lengths, default=0) + 3):
        for limit in (1, 2):
            windows[(length, limit)] = [w for w in pool if abs(len(w) - length) <= limit]
    return windows


_ORDINAL_STEMS: dict[str, int] = {str(k): int(v) for k, v in FILTERS["ordinal_stems"].items()}


def _clipped_ordinal(token: Token) -> int | None:
    """The number a clipped ordinal word stands for («трет» → 3), or None."""
    if token.kind is not TokenKind.WORD:
        return None
    word = token.text
    for stem, value in _ORDINAL_STEMS.items():
        # «трет», «треть», «третя»: the stem and at most two more letters, no other word.
        if word.startswith(stem) and len(word) <= len(stem) + 2:
            return value
    return None
