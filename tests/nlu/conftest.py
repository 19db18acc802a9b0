"""Fixtures for the language-engine tests: one engine for the corpus's demo company."""

from __future__ import annotations

import pytest

from bot.answers import AnswerBuilder
from bot.nlu.engine import LanguageEngine
from tests.nlu.evaluation import build_engine


@pytest.fixture(scope="session")
def engine() -> LanguageEngine:
    """The engine over the demo company of 2026-11-25, loaded through the emulated portal."""
    built, _ = build_engine()
    return built


@pytest.fixture(scope="session")
def answers(engine: LanguageEngine) -> AnswerBuilder:
    """Answers over the same snapshot."""
    return AnswerBuilder(engine.snapshot, engine.morph)
