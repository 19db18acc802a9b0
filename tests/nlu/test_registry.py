"""The intent registry agrees with the templates, the answers and the engine.

`bot/nlu/registry.yaml` is the one place an intent is declared; these checks make sure the
other places that name intents (hassil's templates in `intents.yaml`, the `AnswerBuilder`
methods) cannot drift from it, and that every example it shows users is really understood.
"""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from bot.answers import MISSING_SLOT, AnswerBuilder
from bot.nlu.engine import LanguageEngine
from bot.nlu.frame import INTENTS, SLOT_ORDER
from bot.nlu.registry import REGISTRY, IntentSpec
from tests.nlu.evaluation import TODAY


def _templates() -> dict[str, object]:
    text = resources.files("bot.nlu").joinpath("intents.yaml").read_text(encoding="utf-8")
    intents: dict[str, object] = yaml.safe_load(text)["intents"]
    return intents


def test_every_template_intent_is_registered() -> None:
    assert set(_templates()) <= set(REGISTRY.intents)


def test_the_engine_knows_exactly_the_registered_intents() -> None:
    assert tuple(REGISTRY.intents) == INTENTS


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda s: s.name)
def test_every_intent_has_an_existing_renderer(spec: IntentSpec) -> None:
    renderer = spec.renderer
    assert callable(getattr(AnswerBuilder, renderer, None)), renderer


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda s: s.name)
def test_slots_are_known_and_required_ones_are_taken(spec: IntentSpec) -> None:
    slots = set(spec.slots)
    assert slots <= set(SLOT_ORDER), slots - set(SLOT_ORDER)
    for slot in spec.required:
        assert slot in slots
        assert slot in MISSING_SLOT  # the answer can ask for it


def test_every_intent_has_examples_and_help_shows_eight() -> None:
    assert all(spec.examples for spec in REGISTRY)
    assert len(REGISTRY.help_examples) == 8
    assert REGISTRY.start_examples


EXAMPLES = [
    (spec.name, text)
    for spec in REGISTRY
    for text in dict.fromkeys((*spec.examples, *spec.help, *spec.start))
]


@pytest.mark.parametrize(("intent", "text"), EXAMPLES, ids=[t for _, t in EXAMPLES])
def test_every_example_is_understood_as_its_intent(
    engine: LanguageEngine, intent: str, text: str
) -> None:
    frame = engine.understand(text, today=TODAY)
    # A clarifying question is still this intent («Ленина 5» is in two towns); a problem is not.
    assert (frame.intent, frame.problems) == (intent, ())
