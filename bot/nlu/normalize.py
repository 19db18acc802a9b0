"""Text normalisation for language understanding: typed text and Vosk transcripts meet here.

`normalize` turns anything a user can send into lower-case, ё-folded, punctuation-free words
with number words as digits, plus metadata:

1. **Bounded work.** Only the first `MAX_INPUT_CHARS` (500) characters are read (a request is a
   sentence; a 10,000-character paste is not a request), and the output text is cut to
   `MAX_OUTPUT_CHARS`. ``truncated`` says when the input was cut.
2. **Unicode clean-up.** "№" → "номер" (before NFKC, which would make it "No"), NFKC (full-width
   digits, ligatures), stress marks, control and zero-width characters, HTML entities and tags,
   Markdown links, URLs and @mentions are removed; lower case; ё → е; Latin look-alike letters
   inside Cyrillic words are mapped to Cyrillic ("Пpолетарская" with a Latin "p").
3. **Typed shapes.** A leading Telegram command "/help@bot" gives ``command="help"``;
   "15.12" / "15.12.2026" / "2026-12-15" become "15 декабря [2026]" (so "1.5" reads as 1 May:
   in this bot a typed d.m is a date far more often than a decimal); "1-4 декабря" becomes
   "с 1 по 4 декабря"; abbreviations are
   expanded ("ул." → "улица", "д. 10" → "дом 10", "корп." → "корпус", "пр-т" → "проспект",
   "кол-во" → "количество", "Ст.Разина" → "степана разина", …); "112 / 1" keeps its slash;
   "3-й", "21-а", "15к2" stay single words for ITN. Other punctuation is dropped but remembered
   as a boundary after the previous word (the house-letter rule in `numbers` uses it).
4. **ASR repairs.** Letters split by Vosk are joined ("у к" → "ук", "ж к х" → "жкх"); fillers
   ("ну", "э", "эм", "ммм", "короче", "пожалуйста", "слушай", "подскажи", "скажи", …) are
   dropped; some words only at the start ("так", "вот", "давай", …).
5. **Follow-ups.** A leading "а" / "и" / "еще" ("а у пятой?", "а телефон?") is removed and
   ``followup=True`` is set, so the engine can reuse the previous intent and slots.
6. **ITN** (`bot.nlu.numbers.itn`): "третьей" → 3, "сто двенадцать дробь один" → "112/1".

`normalize` never raises, whatever the input (tested with hypothesis), and costs tens of
microseconds per utterance once the number tables are built.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass

from bot.nlu.numbers import NumberLexicon, Token, TokenKind, itn, parse_digit_word

__all__ = ["MAX_INPUT_CHARS", "MAX_OUTPUT_CHARS", "NormalizedText", "normalize", "normalize_name"]

#: Characters of input that are read; the rest is ignored (``truncated=True``).
MAX_INPUT_CHARS = 500
#: Upper bound on the length of `NormalizedText.text` (expansions like "№" → "номер" can grow
#: the text a little; whole tokens are dropped from the end beyond this).
MAX_OUTPUT_CHARS = 1000

_MONTHS_GEN = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]")
_COMBINING = re.compile(r"[\u0300-\u036f]")  # stress marks in "мо́ет"; й/ё are composed by NFKC
_TAG = re.compile(r"<[^<>]{0,200}>")
_MD_LINK = re.compile(r"\[([^\[\]]{0,200})\]\([^()\s]{0,300}\)")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_MENTION = re.compile(r"@\w+")
_COMMAND = re.compile(r"^\s*/([a-z][a-z0-9_]{0,31})(?:@\w+)?")
_DATE_DMY = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?:\.(\d{4}|\d{2}))?(?![\d]|\.\d)")
_DATE_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
# "1-4 декабря": a span of days typed with a dash; read as "с 1 по 4 декабря" (the dash is
# lost in tokens, and "1 4 декабря" would be the 4th alone).
_DAY_SPAN = re.compile(
    r"(?<![\d/.])(\d{1,2})\s*[-–—]\s*(\d{1,2})(?=\s+(?:" + "|".join(_MONTHS_GEN) + r")\b)"
)
_SLASH = re.compile(r"(?<=\d)\s*/\s*(?=\d)")
_YEAR_ABBR = re.compile(r"(?<=\d{4})\s*г\.")
_CITY_ABBR = re.compile(r"(?<![^\W_])г\.\s*(?=[^\W\d_])")
_HOUSE_ABBR = re.compile(r"(?<![^\W\d_])д\.?\s*(?=\d)")
_BUILDING_ABBR = re.compile(r"(?<=\d)\s*к\.\s*(?=\d)")
_STEPAN = re.compile(r"(?<![^\W\d_])ст\.?\s*(?=разин)")

# Dotted and hyphenated abbreviations, matched as whole words on the lower-cased string.
# A trailing dot is optional for the hyphenated ones and required for short ones that are also
# words or letters ("пер" alone could be anything; "г" is a house letter).
_ABBREVIATIONS: dict[str, str] = {
    "ул.": "улица",
    "пр-т": "проспект",
    "пр-кт": "проспект",
    "просп.": "проспект",
    "пр.": "проспект",
    "пер.": "переулок",
    "пл.": "площадь",
    "ш.": "шоссе",
    "б-р": "бульвар",
    "бул.": "бульвар",
    "наб.": "набережная",
    "мкр.": "микрорайон",
    "мкр-н": "микрорайон",
    "р-н": "район",
    "корп.": "корпус",
    "кв.": "квартира",
    "стр.": "строение",
    "тел.": "телефон",
    "обл.": "область",
    "им.": "имени",
    "кол-во": "количество",
    "к-во": "количество",
    "т.к.": "так как",
    "т.е.": "то есть",
}
_ABBR_RE = re.compile(
    r"(?<![^\W_])("
    + "|".join(
        re.escape(k) if k.endswith(".") else re.escape(k) + r"\.?(?![^\W_])"
        for k in sorted(_ABBREVIATIONS, key=len, reverse=True)
    )
    + ")"
)
# Abbreviations typed without a dot, as whole tokens.
_WORD_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "ул": ("улица",),
    "корп": ("корпус",),
    "кв": ("квартира",),
    "тел": ("телефон",),
    "просп": ("проспект",),
    "колво": ("количество",),
    "плз": (),
    "пжл": (),
    "пжлст": (),
}

# Letter sequences Vosk splits: joined back (they cannot occur as real adjacent words).
_JOINS: dict[tuple[str, ...], str] = {
    ("у", "к"): "ук",
    ("у", "ка"): "ук",
    ("ж", "к", "х"): "жкх",
    ("ж", "к", "с"): "жкс",
    ("т", "с", "ж"): "тсж",
    ("ж", "с", "к"): "жск",
    ("о", "о", "о"): "ооо",
}
_JOIN_MAX = max(len(k) for k in _JOINS)

_FILLERS = frozenset(
    {
        "ну",
        "короче",
        "пожалуйста",
        "пожалуйсто",
        "пожалуста",
        "плиз",
        "слушай",
        "слушайте",
        "подскажи",
        "подскажите",
        "скажи",
        "скажите",
        "значит",
        "типа",
        "блин",
        "хм",
        "ага",
    }
)
_FILLER_RE = re.compile(r"э+|э+м+|м{2,}|а{3,}|хм+")
_LEADING_FILLERS = frozenset(
    {"так", "вот", "давай", "давайте", "ладно", "окей", "ок", "алло", "эй"}
)
_FOLLOWUP_MARKERS = frozenset({"а", "и", "еще"})
_FOLLOWUP_SECOND = frozenset({"еще", "также", "тогда", "вот"})

_LATIN_TO_CYRILLIC = str.maketrans("aeopcxykmthb", "аеорсхукмтнв")
_WORD = re.compile(r"[^\W_]+(?:[-/][^\W_]+)*|[^\w\s]|_")
_HAS_CYRILLIC = re.compile(r"[а-я]")
_HAS_LATIN = re.compile(r"[a-z]")
_DIGITS_AND_LETTERS = re.compile(r"[0-9]+|[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """The result of `normalize`.

    ``text`` is the normalised string (tokens joined by spaces: "какие дома у 3 бригады").
    ``tokens`` carry number metadata; their ``start``/``end`` index into ``words``, the cleaned
    words before ITN. ``followup`` is True when the request began with "а"/"и"/"еще";
    ``command`` is a leading Telegram command without the slash ("help"); ``truncated`` is True
    when the input was longer than `MAX_INPUT_CHARS`.
    """

    text: str
    tokens: tuple[Token, ...]
    words: tuple[str, ...]
    followup: bool = False
    command: str | None = None
    truncated: bool = False

    @property
    def numbers(self) -> tuple[Token, ...]:
        """Only the numeric tokens (cardinal, ordinal, noun, house)."""
        return tuple(t for t in self.tokens if t.kind is not TokenKind.WORD)

    def __str__(self) -> str:
        return self.text


def _date_dmy(m: re.Match[str]) -> str:
    day, month = int(m.group(1)), int(m.group(2))
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return m.group(0)
    year = m.group(3)
    if year and len(year) == 2:
        year = "20" + year
    return f" {day} {_MONTHS_GEN[month - 1]}{' ' + year if year else ''} "


def _date_iso(m: re.Match[str]) -> str:
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return m.group(0)
    return f" {day} {_MONTHS_GEN[month - 1]} {year} "


def _abbreviation(m: re.Match[str]) -> str:
    key = m.group(1)
    full = _ABBREVIATIONS.get(key) or _ABBREVIATIONS.get(key.rstrip(".")) or key
    return f" {full} "


def _clean(text: str) -> tuple[str, str | None, bool]:
    """Unicode, markup and typed-shape clean-up of the raw string.

    Returns (text, command, cut): ``cut`` is True when expansion ("№" → "номер", NFKC) grew
    the text past the working limit and its end was dropped.
    """
    s = unicodedata.normalize("NFKC", text.replace("№", " номер "))
    cut = len(s) > MAX_INPUT_CHARS * 2
    s = s[: MAX_INPUT_CHARS * 2]
    s = html.unescape(s)
    s = _CONTROL.sub(" ", s)
    s = _COMBINING.sub("", s)
    s = s.lower().replace("ё", "е")
    command: str | None = None
    m = _COMMAND.match(s)
    if m:
        command = m.group(1)
        s = command + " " + s[m.end() :]
    s = _MD_LINK.sub(r" \1 ", s)
    s = _TAG.sub(" ", s)
    s = _URL.sub(" ", s)
    s = _MENTION.sub(" ", s)
    s = _DATE_ISO.sub(_date_iso, s)
    s = _DATE_DMY.sub(_date_dmy, s)
    s = _DAY_SPAN.sub(r" с \1 по \2", s)
    s = _SLASH.sub("/", s)
    s = _YEAR_ABBR.sub(" год ", s)
    s = _CITY_ABBR.sub(" город ", s)
    s = _HOUSE_ABBR.sub(" дом ", s)
    s = _BUILDING_ABBR.sub(" корпус ", s)
    s = _STEPAN.sub(" степана ", s)
    s = _ABBR_RE.sub(_abbreviation, s)
    return s, command, cut


def _split_word(word: str) -> list[str]:
    """Split a raw word with hyphens, slashes or digit/letter mixes into ITN-ready words."""
    if word.isalpha() or word.isdigit():
        return [word]
    if parse_digit_word(word) is not None:
        return [word]  # "3-й", "21-а", "15к2", "112/1"
    out: list[str] = []
    for part in re.split(r"[-/]", word):
        if not part:
            continue
        if part.isalpha() or part.isdigit() or parse_digit_word(part) is not None:
            out.append(part)
        else:
            out.extend(_DIGITS_AND_LETTERS.findall(part))  # "5этаж" → "5", "этаж"
    return out


def _tokenize(s: str) -> tuple[list[str], list[bool]]:
    """Words and, per word, whether punctuation followed it."""
    words: list[str] = []
    boundaries: list[bool] = []
    for m in _WORD.finditer(s):
        raw = m.group(0)
        if not (raw[0].isalnum()):
            if boundaries:
                boundaries[-1] = True
            continue
        if _HAS_LATIN.search(raw) and _HAS_CYRILLIC.search(raw):
            raw = raw.translate(_LATIN_TO_CYRILLIC)
        for part in _split_word(raw):
            expansion = _WORD_ABBREVIATIONS.get(part)
            if expansion is None:
                words.append(part)
                boundaries.append(False)
            else:
                words.extend(expansion)
                boundaries.extend([False] * len(expansion))
    return words, boundaries


def _repair(words: list[str], boundaries: list[bool]) -> tuple[list[str], list[bool], bool]:
    """Join split letters, drop fillers, detect and drop a follow-up marker."""
    joined: list[str] = []
    joined_b: list[bool] = []
    i = 0
    while i < len(words):
        for size in range(_JOIN_MAX, 1, -1):
            key = tuple(words[i : i + size])
            if len(key) == size and key in _JOINS:
                joined.append(_JOINS[key])
                joined_b.append(boundaries[i + size - 1])
                i += size
                break
        else:
            if words[i] not in _FILLERS and not _FILLER_RE.fullmatch(words[i]):
                joined.append(words[i])
                joined_b.append(boundaries[i])
            i += 1

    start = 0
    followup = False
    # Bounded: each pass consumes at least one word or stops.
    while start < len(joined):
        word = joined[start]
        if word in _LEADING_FILLERS:
            start += 1
        elif word in _FOLLOWUP_MARKERS and not followup:
            followup = True
            start += 1
            if start < len(joined) and joined[start] in _FOLLOWUP_SECOND:
                start += 1
        else:
            break
    return joined[start:], joined_b[start:], followup


#: Texts whose normalisation is remembered: a request is normalised again on its way (the
#: write-request parser and the engine both read it; a repair normalises the repaired words
#: in both), and a result is a few hundred bytes.
_CACHE_SIZE = 4096


def normalize(text: str, lexicon: NumberLexicon | None = None) -> NormalizedText:
    """Normalise a typed request or a Vosk transcript (see the module docstring).

    ``lexicon`` is the number lexicon to use (default: the shared one). Never raises.
    """
    if lexicon is None:
        return _normalize_shared(text)
    return _normalize(text, lexicon)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _normalize_shared(text: str) -> NormalizedText:
    """`normalize` with the shared lexicon, remembered: the result depends on the text only
    and is immutable (a frozen dataclass of tuples of frozen tokens), so it can be shared."""
    return _normalize(text, None)


def _normalize(text: str, lexicon: NumberLexicon | None) -> NormalizedText:
    cleaned, command, cut = _clean(text[:MAX_INPUT_CHARS])
    truncated = cut or len(text) > MAX_INPUT_CHARS
    words, boundaries = _tokenize(cleaned)
    words, boundaries, followup = _repair(words, boundaries)
    tokens = itn(words, boundaries, lexicon=lexicon)
    kept: list[Token] = []
    length = 0
    for token in tokens:
        length += len(token.text) + 1
        if length > MAX_OUTPUT_CHARS + 1:
            truncated = True
            break
        kept.append(token)
    return NormalizedText(
        text=" ".join(t.text for t in kept),
        tokens=tuple(kept),
        words=tuple(words),
        followup=followup,
        command=command,
        truncated=truncated,
    )


def normalize_name(text: str, lexicon: NumberLexicon | None = None) -> str:
    """Normalise a catalog name (street, company, person, position) the way `normalize`
    treats requests, without the request-only repairs (no filler or follow-up removal, no
    joining of split letters): "Ст.Разина" → "степана разина", "ул. 8 Марта" → "улица 8 марта",
    "ООО «Жилкомсервис»" → "ооо жилкомсервис". Never raises."""
    cleaned, _, _ = _clean(text[:MAX_INPUT_CHARS])
    words, boundaries = _tokenize(cleaned)
    return " ".join(t.text for t in itn(words, boundaries, lexicon=lexicon))[:MAX_OUTPUT_CHARS]
