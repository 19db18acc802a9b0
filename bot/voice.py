"""Where speech meets language: the domain grammar for Vosk's second pass, and its judge.

When an open transcript does not parse, or its words are unsure, the speech service decodes
the same audio again with a grammar of the words this company's requests are made of: the
template words, every form of the CRM's streets, surnames, companies and positions, and number
words. A transcript is accepted when the language engine finds an intent in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.nlu.engine import LanguageEngine
from bot.nlu.numbers import cardinal_forms, ordinal_forms
from bot.speech.recognizer import Recognizer, SecondPass

#: House numbers and counts people say (cardinals) and brigade/date ordinals.
MAX_CARDINAL = 300
MAX_ORDINAL = 31


def grammar_vocabulary(engine: LanguageEngine) -> list[str]:
    """Every word a request to this company may contain, for the recognizer's grammar."""
    words: set[str] = set(engine.tagger.vocabulary)
    for n in range(MAX_CARDINAL + 1):
        for form in cardinal_forms(n):
            words.update(form.split())
    for n in range(1, MAX_ORDINAL + 1):
        for form in ordinal_forms(n):
            words.update(form.split())
    # Placeholders and digits are ours, not words anyone says.
    return sorted(w for w in words if w.isalpha() and not w.startswith("x"))


def make_second_pass(
    recognizer: Recognizer, engine: LanguageEngine, today: Callable[[], date]
) -> SecondPass:
    """A second pass biased to this company's words, accepted when the engine understands it."""
    grammar = recognizer.build_grammar(grammar_vocabulary(engine))

    def accept(text: str) -> bool:
        return engine.understand(text, today=today()).intent != "unknown"

    return SecondPass(grammar=grammar, accept=accept)
