"""«Мои задачи», «у нас в бригаде»: requests about the person asking.

A small step around the language engine, kept apart from it so either can change alone.
Before the engine reads a request, `find_self` looks for the words that mean the asker (listed
in ``selfref.yaml``: «мой/моя/мои», «у меня», «моя бригада», «у нас», …) and replaces them
with what the engine already understands: «бригады N», the asker's brigade. After the engine,
`apply_asker` puts the asker into the frame: ``person`` for their own tasks, ``brigade`` for
houses, schedules and people («a person's houses are the houses of their brigade»).

When the bot does not know who asks (an admin who never signed in, `audiobot ask` without
``--as``), a request with these words is not answered with company-wide data: the caller says
how to sign in instead (`SelfReference.needs_asker`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

import yaml

from bitrix.models import Employee
from bot.nlu.frame import Frame
from bot.nlu.registry import REGISTRY

__all__ = [
    "PERSONAL_INTENTS",
    "SelfReference",
    "SelfWords",
    "apply_asker",
    "find_self",
    "introduces_self",
    "self_words",
]

WORDS_FILE = Path(__file__).with_name("selfref.yaml")

#: Intents where «мои» means the asker as a person (registry: ``mine: person``).
PERSONAL_INTENTS = REGISTRY.names(mine="person")
#: Intents where «мои»/«наши» mean the asker's brigade; a personal intent takes «наши» as the
#: brigade too (registry: ``mine``).
BRIGADE_INTENTS = PERSONAL_INTENTS | REGISTRY.names(mine="brigade")
#: Intents that need no data: the self words change nothing there (registry: ``data: false``).
NEUTRAL_INTENTS = REGISTRY.names(data=False)

_WORD = re.compile(r"[0-9a-zа-я]+(?:[/-][0-9a-zа-я]+)*")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class SelfWords:
    """The phrases of ``selfref.yaml``, as word tuples."""

    brigade: tuple[Phrase, ...]
    person: tuple[Phrase, ...]
    group: tuple[Phrase, ...]
    not_after: frozenset[str]
    not_before: frozenset[str]
    company_wide: frozenset[str]
    introduces: frozenset[str] = frozenset()


@cache
def self_words(path: Path = WORDS_FILE) -> SelfWords:
    """The word lists (read once)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))

    def phrases(key: str) -> tuple[Phrase, ...]:
        found = {tuple(str(p).split()) for p in data.get(key) or ()}
        return tuple(sorted(found, key=len, reverse=True))

    return SelfWords(
        brigade=phrases("brigade"),
        person=phrases("person"),
        group=phrases("group"),
        not_after=frozenset(str(w) for w in data.get("not_after") or ()),
        not_before=frozenset(str(w) for w in data.get("not_before") or ()),
        company_wide=frozenset(str(w) for w in data.get("company_wide") or ()),
        introduces=frozenset(str(w) for w in data.get("introduces") or ()),
    )


def introduces_self(text: str, words: SelfWords | None = None) -> bool:
    """Whether the request has a word by which the asker says who they are («я»)."""
    words = words or self_words()
    return any(t in words.introduces for t in _WORD.findall(text.lower().replace("ё", "е")))


@dataclass(frozen=True)
class SelfReference:
    """What `find_self` found in a request."""

    #: What the engine should read (the request itself when nothing was found).
    text: str
    #: "" (no self words), "person" («мои задачи») or "brigade» («моя бригада», «у нас»).
    kind: str = ""
    #: The words as said, for answers («мои»).
    said: str = ""
    #: The brigade number written into ``text`` in place of the words.
    brigade: int | None = None

    @property
    def needs_asker(self) -> bool:
        """Whether the request cannot be answered without knowing who asks."""
        return bool(self.kind)


def _match(tokens: list[str], at: int, phrases: tuple[Phrase, ...]) -> Phrase | None:
    """The first of ``phrases`` said at ``at`` (in their order: longest first)."""
    groups = _by_first_word(phrases)
    # Only phrases beginning with the word said can match: try those, in the same order.
    candidates = groups.get(tokens[at], ()) if groups is not None and at < len(tokens) else phrases
    for phrase in candidates:
        if tuple(tokens[at : at + len(phrase)]) == phrase:
            return phrase
    return None


@lru_cache(maxsize=64)
def _by_first_word(phrases: tuple[Phrase, ...]) -> dict[str, tuple[Phrase, ...]] | None:
    """The phrases grouped by their first word, each group in the phrases' order (None if
    one is empty: an empty phrase matches anywhere, so every phrase must be tried)."""
    if not all(phrases):
        return None
    groups: dict[str, list[Phrase]] = {}
    for phrase in phrases:
        groups.setdefault(phrase[0], []).append(phrase)
    return {word: tuple(group) for word, group in groups.items()}


@lru_cache(maxsize=64)
def _protected(names: tuple[str, ...]) -> tuple[Phrase, ...]:
    """The CRM's names as word tuples, longest first (see `find_self`)."""
    return tuple(
        sorted(
            {tuple(_WORD.findall(n.lower().replace("ё", "е"))) for n in names} - {()},
            key=len,
            reverse=True,
        )
    )


def find_self(
    text: str,
    asker: Employee | None,
    words: SelfWords | None = None,
    *,
    stand_in: int = 1,
    names: Iterable[str] = (),
) -> SelfReference:
    """Find the words meaning the asker and rewrite them for the engine (module docstring).

    Someone in no brigade (or not known) gets «бригады ``stand_in``» (an existing brigade)
    written in all the same, only so that the engine sees the shape of the question («мои
    дома» is a houses question); `apply_asker` then answers that they are in no brigade, and
    the stand-in is never shown.

    ``names`` are the CRM's own names (management companies…): a self word inside one of them
    («УК «Мой дом»») is part of the name, not the asker.
    """
    words = words or self_words()
    tokens = _WORD.findall(text.lower().replace("ё", "е"))
    protected = _protected(tuple(names))
    brigade = asker.brigade if asker is not None else None
    company_wide = any(t in words.company_wide for t in tokens)
    out: list[str] = []
    kind = ""
    said: list[str] = []
    injected: int | None = None
    at = 0
    while at < len(tokens):
        found: Phrase | None = None
        found_kind = ""
        if (name := _match(tokens, at, protected)) is not None:
            out.extend(name)
            at += len(name)
            continue
        if (phrase := _match(tokens, at, words.brigade)) is not None:
            found, found_kind = phrase, "brigade"
        elif (phrase := _match(tokens, at, words.person)) is not None:
            after = tokens[at + 1] if at + 1 < len(tokens) else ""
            if phrase == ("мне",) and (
                (at > 0 and tokens[at - 1] in words.not_after) or after in words.not_before
            ):
                phrase = None
            found, found_kind = phrase, "person"
        elif (
            brigade is not None
            and not company_wide
            and (phrase := _match(tokens, at, words.group)) is not None
        ):
            found, found_kind = phrase, "brigade"
        if found is None:
            out.append(tokens[at])
            at += 1
            continue
        said.append(" ".join(found))
        # «мои задачи в моей бригаде»: the brigade reading wins over the personal one.
        kind = "brigade" if "brigade" in (kind, found_kind) else found_kind
        if injected is None:
            injected = brigade if brigade is not None else stand_in
            out.extend(("бригады", str(injected)))
        at += len(found)
    if not kind:
        return SelfReference(text)
    return SelfReference(" ".join(out), kind, ", ".join(said), injected)


def apply_asker(frame: Frame, ref: SelfReference, asker: Employee) -> Frame | str:
    """The frame with the asker filled in, or what to say instead (a sentence, no data).

    Call only when ``ref.kind`` is set and the asker is known.
    """
    if frame.clarify:
        return frame
    if frame.intent in NEUTRAL_INTENTS:
        # Nothing to narrow; drop the brigade written in for the engine, if it shows.
        if ref.brigade is not None and frame.slots.get("brigade") == ref.brigade:
            slots = {k: v for k, v in frame.slots.items() if k != "brigade"}
            return replace(frame, slots=slots)
        return frame
    if ref.kind == "person" and frame.intent in PERSONAL_INTENTS:
        slots = dict(frame.slots)
        if ref.brigade is not None and slots.get("brigade") == ref.brigade:
            del slots["brigade"]  # written in for the engine; the person is narrower
        slots["person"] = asker
        return replace(frame, slots=slots)
    if frame.intent in BRIGADE_INTENTS:
        if asker.brigade is None:
            return (
                f"В Bitrix24 вы ({asker.short_name}) не состоите ни в одной бригаде, поэтому "
                f"«{ref.said}» мне не к чему отнести. Назовите бригаду, например: «дома "
                "бригады 3»."
            )
        slots = dict(frame.slots)
        slots["brigade"] = asker.brigade
        return replace(frame, slots=slots)
    return (
        f"«{ref.said}» к такому вопросу я применить не умею — спросите без этого слова или "
        "назовите, о ком или о какой бригаде речь."
    )


def asking_for_link(ref: SelfReference) -> str:
    """The answer to «мои …» from someone the bot does not know."""
    return (
        f"Не знаю, кто вы в Bitrix24, поэтому на «{ref.said}» ответить не могу. Войдите по "
        "номеру телефона: отправьте /start и нажмите «📱 Поделиться номером» "
        "(в терминале: audiobot ask --as ФАМИЛИЯ)."
    )
