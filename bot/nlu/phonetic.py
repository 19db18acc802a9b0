"""A Russian phonetic key and a fuzzy similarity for names heard by speech recognition.

Vosk mishears unstressed vowels and splits long words ("линина" for "ленина", "моя ковского"
for "маяковского", "жил ком сервис", "сидоренка"). Comparing a phonetic key as well as the
letters fixes most of these.

Written here rather than taken from `fonetika` (whose `RussianMetaphone` is the model for this
key): fonetika depends on the abandoned pymorphy2, which fails on Python ≥ 3.11
(pymorphy2/pymorphy2#159), and the key is a few string rules.

The key, in the spirit of RussianMetaphone:

* lower case, ё → е, everything but Cyrillic letters dropped, **spaces ignored** (split
  words meet their whole form);
* word-final "-ого"/"-его" read as "-ова"/"-ева" ("маяковского" ≈ "маяковскава");
* iotated vowels after a vowel, ь/ъ or at the start are "й" + vowel ("моя" → "майа");
* vowel reduction: о, а → "а"; е, э, и, ы, я → "и"; ю, у → "у";
* ь and ъ dropped;
* voiced consonants devoiced at the end and before a voiceless one (б→п, в→ф, г→к, д→т,
  ж→ш, з→с); "тс"/"дс" → "ц", "сч"/"зч" → "щ", silent consonants in "стн", "здн", "вств",
  "лнц" dropped;
* doubled letters collapsed.

`similarity` is the mean of `rapidfuzz.fuzz.ratio` on the texts and
on their keys, 0–100.
"""

from __future__ import annotations

import functools
import re

from rapidfuzz import fuzz

__all__ = ["phonetic_key", "similarity"]

_VOWELS = frozenset("аеёиоуыэюя")
_IOTATED = {"я": "йа", "е": "йи", "ё": "йа", "ю": "йу"}
_VOWEL_CLASS = str.maketrans({"о": "а", "е": "и", "э": "и", "ы": "и", "я": "и", "ю": "у"})
_DEVOICE = {"б": "п", "в": "ф", "г": "к", "д": "т", "ж": "ш", "з": "с"}
_VOICELESS = frozenset("пфктшсхцчщ")
_NON_LETTERS = re.compile(r"[^а-яa-z0-9 ]+")
_ENDING = re.compile(r"([ое])го\b")
_CLUSTERS = (
    ("вств", "ств"),
    ("стн", "сн"),
    ("здн", "зн"),
    ("лнц", "нц"),
    ("сч", "щ"),
    ("зч", "щ"),
)


@functools.lru_cache(maxsize=65_536)
def phonetic_key(text: str) -> str:
    """Phonetic key of a word or phrase ("ленина" and "линина" → "линина";
    "маяковского" and "моя ковского" → "майакафскава")."""
    s = text.lower().replace("ё", "е")
    s = _NON_LETTERS.sub(" ", s)
    s = _ENDING.sub(lambda m: m.group(1) + "ва", s)
    s = s.replace(" ", "")
    for cluster, replacement in _CLUSTERS:
        s = s.replace(cluster, replacement)

    chars: list[str] = []
    previous = ""
    for ch in s:
        if ch in _IOTATED and (not previous or previous in _VOWELS or previous in "ьъ"):
            chars.append(_IOTATED[ch])
        elif ch in "ьъ":
            pass
        else:
            chars.append(ch.translate(_VOWEL_CLASS))
        previous = ch
    s = "".join(chars)

    # Devoicing: right to left, so a cluster devoices as a whole ("здн" handled above).
    out: list[str] = []
    following = ""
    for ch in reversed(s):
        sound = (
            _DEVOICE[ch] if ch in _DEVOICE and (not following or following in _VOICELESS) else ch
        )
        out.append(sound)
        following = sound
    s = "".join(reversed(out))
    s = s.replace("тс", "ц").replace("дс", "ц")

    collapsed: list[str] = []
    for ch in s:
        if not collapsed or collapsed[-1] != ch:
            collapsed.append(ch)
    return "".join(collapsed)


def plain_text(text: str) -> str:
    """The text as `similarity` compares it: lower case, ё folded, letters and digits only."""
    return " ".join(_NON_LETTERS.sub(" ", text.lower().replace("ё", "е")).split())


def similarity(a: str, b: str) -> float:
    """0–100: the mean of `fuzz.ratio` on the lower-cased texts and on their phonetic keys.

    "линина"/"ленина" ≈ 92, "ленина"/"калинина" ≈ 86, "сидоренка"/"сидоренко" ≈ 94.
    """
    text_score = fuzz.ratio(plain_text(a), plain_text(b))
    key_score = fuzz.ratio(phonetic_key(a), phonetic_key(b))
    return 0.5 * text_score + 0.5 * key_score
