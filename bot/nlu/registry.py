"""The intent registry: what each question type takes, how it is answered, how it is shown.

The facts live in `registry.yaml` (one entry per intent); this module only reads them into
typed `IntentSpec` objects. The engine (slots, follow-ups, superlatives), rule 1
(`bot.nlu.coverage`), the answers (renderer, required slots, /help examples), the assistant
(role defaults, stale notes), «мои» (`bot.selfref`) and docs/intents.md all ask the registry
instead of keeping their own lists of intent names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import yaml

#: What «мои»/«наши» narrow an intent to (``""``: it cannot be narrowed).
Mine = Literal["person", "brigade", ""]


@dataclass(frozen=True)
class IntentSpec:
    """One question type as `registry.yaml` declares it."""

    name: str
    #: The slots it takes, groups expanded, in the order declared.
    slots: tuple[str, ...]
    #: Slots it cannot answer without.
    required: tuple[str, ...]
    #: The `bot.answers.AnswerBuilder` method that builds its answer.
    renderer: str
    #: False for help, greetings and «не понял»: answered without company data.
    data: bool
    #: Whether a follow-up («а у пятой?») may continue it.
    followup: bool
    #: Whether a superlative («больше всего») turns it into ``rank``.
    rank_may_override: bool
    #: Whether a brigade member's request without a subject may default to it.
    role_default: bool
    #: Its answer is a set of houses (a feature the CRM lacks would filter it).
    house_set: bool
    #: Mention kinds it uses without a slot of its own.
    indirect: frozenset[str]
    #: Mention kinds that, without a slot of their own, filter by the words of the titles
    #: («собрание с ЖЭУ-5»: the event whose name holds «ЖЭУ-5»).
    titled: frozenset[str]
    mine: Mine
    #: Its row of docs/intents.md: when it applies, examples, its slots in words.
    when: str
    doc_slots: str
    examples: tuple[str, ...]
    #: Examples /help shows, and /start shows.
    help: tuple[str, ...]
    start: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    """Every intent, in the order of the file (the docs' and /help's order)."""

    intents: Mapping[str, IntentSpec]
    slot_groups: Mapping[str, tuple[str, ...]]

    def __getitem__(self, name: str) -> IntentSpec:
        return self.intents[name]

    def __contains__(self, name: object) -> bool:
        return name in self.intents

    def __iter__(self) -> Iterator[IntentSpec]:
        return iter(self.intents.values())

    def get(self, name: str) -> IntentSpec | None:
        """The intent of that name, or None when it is not registered."""
        return self.intents.get(name)

    def names(self, **flags: object) -> frozenset[str]:
        """The intents whose attributes equal ``flags`` (``names(data=False)``)."""
        return frozenset(s.name for s in self if all(getattr(s, k) == v for k, v in flags.items()))

    @property
    def help_examples(self) -> tuple[str, ...]:
        """What /help lists, intent by intent."""
        return tuple(e for s in self for e in s.help)

    @property
    def start_examples(self) -> tuple[str, ...]:
        """What /start suggests, intent by intent."""
        return tuple(e for s in self for e in s.start)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def parse(doc: Mapping[str, Any]) -> Registry:
    """A registry from the parsed YAML document (``KeyError`` on a missing field)."""
    groups = {name: _strings(slots) for name, slots in doc["slot_groups"].items()}
    intents: dict[str, IntentSpec] = {}
    for name, entry in doc["intents"].items():
        slots: list[str] = []
        for slot in entry["slots"]:
            slots.extend(groups.get(slot, (slot,)))
        data = bool(entry.get("data", True))
        mine = entry.get("mine", "")
        if mine not in ("person", "brigade", ""):
            raise ValueError(f"registry: {name}: mine must be person or brigade, not {mine!r}")
        intents[name] = IntentSpec(
            name=name,
            slots=tuple(slots),
            required=_strings(entry.get("required")),
            renderer=str(entry["renderer"]),
            data=data,
            followup=bool(entry.get("followup", data)),
            rank_may_override=bool(entry.get("rank_may_override", True)),
            role_default=bool(entry.get("role_default", False)),
            house_set=bool(entry.get("house_set", False)),
            indirect=frozenset(_strings(entry.get("indirect"))),
            titled=frozenset(_strings(entry.get("titled"))),
            mine=mine,
            when=str(entry["when"]),
            doc_slots=str(entry["doc_slots"]),
            examples=_strings(entry["examples"]),
            help=_strings(entry.get("help")),
            start=_strings(entry.get("start")),
        )
    return Registry(intents=intents, slot_groups=groups)


def load() -> Registry:
    """The registry of the installed package (`bot/nlu/registry.yaml`)."""
    text = resources.files("bot.nlu").joinpath("registry.yaml").read_text(encoding="utf-8")
    return parse(yaml.safe_load(text))


#: The registry every module reads.
REGISTRY = load()
