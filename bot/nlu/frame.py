"""What the engine understood: an intent, its resolved slots, and what it must ask or explain."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bitrix.models import Company, Department, Employee, House
from bot.nlu.catalog import StreetEntry
from bot.nlu.dates import DateRange
from bot.nlu.registry import REGISTRY

#: House filters (SPEC §5): each optional and combinable. ``person`` means the houses of
#: that person's brigade; the counts are ``{"min", "max"}`` bounds (`registry.yaml`).
HOUSE_FILTERS = REGISTRY.slot_groups["house_filters"]
BOUNDS = ("floors", "entrances", "apartments", "lifts")

#: Which slots each intent takes (SPEC §5); the keys are the intents, in docs order.
INTENT_SLOTS: dict[str, tuple[str, ...]] = {spec.name: spec.slots for spec in REGISTRY}
INTENTS = tuple(INTENT_SLOTS)

SLOT_ORDER = (
    "metric",
    "by",
    "among",
    "order",
    "each",
    "brigade",
    "company",
    "no_company",
    "street",
    "town",
    "house_type",
    "floors",
    "entrances",
    "apartments",
    "lifts",
    "house",
    "person",
    "position",
    "department",
    "field",
    "text",
    "date",
    "within",
    "month",
    "last",
    "next",
    "overdue",
    "done",
)


@dataclass(frozen=True)
class Choice:
    """One answer to a clarifying question: a button label and the frame it stands for."""

    label: str
    frame: Frame


@dataclass(frozen=True)
class Problem:
    """Something the request named that the CRM does not have (shown to the user)."""

    kind: str  # "street", "house", "company", "person", "brigade", … or "unapplied"
    said: str
    near: tuple[str, ...] = ()
    #: Why it could not be applied (for ``unapplied``: the part is real, the answer ignores it).
    reason: str = ""


@dataclass(frozen=True)
class Frame:
    """An understood request.

    ``slots`` hold typed values: ``brigade`` int, ``company`` Company, ``street`` StreetEntry,
    ``house`` House, ``person`` Employee, ``position`` str, ``date`` DateRange, ``overdue``
    bool, ``metric`` str, ``field`` str, ``month`` "YYYY-MM".
    """

    intent: str
    slots: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    normalized: str = ""
    question: str | None = None
    choices: tuple[Choice, ...] = ()
    problems: tuple[Problem, ...] = ()
    source: str = "grammar"  # grammar | keywords | context | command | empty

    @property
    def clarify(self) -> bool:
        """Whether the bot asks the user to choose instead of answering."""
        return bool(self.choices)

    def with_slots(self, **slots: Any) -> Frame:
        """A copy with slots replaced (None removes a slot) and no question."""
        merged = {**self.slots, **slots}
        merged = {k: v for k, v in merged.items() if v is not None}
        return replace(self, slots=merged, question=None, choices=(), problems=())

    def slots_json(self) -> dict[str, Any]:
        """The slots in their JSON shapes (docs/intents.md, «Slot formats»)."""
        out: dict[str, Any] = {}
        for name in SLOT_ORDER:
            if name not in self.slots:
                continue
            out[name] = slot_json(self.slots[name])
        return out

    def to_json(self, answer: str) -> dict[str, Any]:
        """The `audiobot ask --json` object for this frame and its answer."""
        return {
            "text": self.text,
            "intent": self.intent,
            "slots": self.slots_json(),
            "answer": answer,
            "clarify": self.clarify,
        }


def slot_json(value: Any) -> Any:
    """One slot value in its JSON shape (docs/intents.md)."""
    if isinstance(value, Company):
        return {"id": value.id, "name": value.name}
    if isinstance(value, House):
        return {"id": value.id, "address": value.title}
    if isinstance(value, Employee):
        return {"id": value.id, "name": value.full_name}
    if isinstance(value, StreetEntry):
        return value.label
    if isinstance(value, Department):
        return value.name  # SPEC §5: `department` is a string
    if isinstance(value, DateRange):
        return value.to_json()
    if isinstance(value, list):
        return [slot_json(v) for v in value]  # `among`: the compared groups
    if isinstance(value, tuple) and len(value) == 2:
        return {"min": value[0], "max": value[1]}
    return value
