"""The pruned template matching (`bot.nlu.templates`) finds exactly what hassil finds."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml
from hassil import RecognizeResult, recognize_best, recognize_ranked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlu.engine import LanguageEngine, template_vocabulary
from tests.nlu.evaluation import TODAY, load_items

#: Development splits only: the held-out one is frozen (scored, never looked into).
_SPLITS = ("dev", "dev2", "dev3", "dev4")
_PLACEHOLDERS = ("xbrigade", "xdate", "xhouse", "xstreet", "xcompany", "xperson", "xposition")


def _ranked(results: list[RecognizeResult]) -> list[tuple[Any, ...]]:
    """What matters of hassil's ranked results: intent, entities, score, template."""
    return [
        (
            r.intent.name,
            [(e.name, e.value, e.text, e.text_span) for e in r.entities_list],
            r.text_chunks_matched,
            r.intent_sentence.text if r.intent_sentence is not None else None,
        )
        for r in results
    ]


def _same(engine: LanguageEngine, text: str) -> None:
    whole = recognize_ranked(text, engine.intents, language="ru")
    pruned = recognize_ranked(text, engine.matcher.pruned(text), language="ru")
    assert _ranked(pruned) == _ranked(whole), text
    best = engine.matcher.recognize(text)
    expected = recognize_best(text, engine.intents, language="ru")
    assert (best is None) == (expected is None), text


def test_pruned_templates_match_like_the_whole_on_the_corpus(engine: LanguageEngine) -> None:
    texts = {
        engine.understand(item.text, today=TODAY).normalized
        for split in _SPLITS
        for item in load_items(split)
    }
    for text in sorted(texts):
        _same(engine, text)


@functools.cache
def _words() -> list[str]:
    """The templates' words, the placeholders, and a hyphen and a capital to fold."""
    doc = yaml.safe_load(
        resources.files("bot.nlu").joinpath("intents.yaml").read_text(encoding="utf-8")
    )
    return sorted(template_vocabulary(doc) | set(_PLACEHOLDERS) | {"кол-во", "Покажи"})


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_pruned_templates_match_like_the_whole_on_word_salads(
    engine: LanguageEngine, data: st.DataObject
) -> None:
    words = data.draw(st.lists(st.sampled_from(_words()), min_size=1, max_size=8))
    _same(engine, " ".join(words))
