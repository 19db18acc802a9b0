"""Template matching with hassil, over only the parts of the templates a request can match.

hassil tries every alternative of every template that passes its prefilter: `<show>` alone has
forty words, each tried as a text chunk at each place it may stand, and matching was about half
of the time spent understanding a request. Yet a text chunk can only match words that are in
the request. hassil's own prefilter states this for a whole template
(`hassil.expression.Sentence.get_required_clauses`: literal fragments *any* text a template
matches must contain, a necessary condition). The same condition holds for each alternative of
a group: whatever part of the request an alternative matches, its fragments are in that part.

So `TemplateMatcher` computes, once per engine, those clauses for every item of every
alternative (``(a|b|c)``, ``[a]``) in the expansion rules and the sentence templates, and per
request drops the items whose clauses the request cannot satisfy, and the templates hassil's
prefilter would skip. Only items that can yield no match are dropped and the order of what is
left is kept, so hassil finds the same matches in the same order and ranks them the same:
`TemplateMatcher.recognize` returns exactly what ``recognize_best`` on the whole templates
returns (tests/nlu/test_templates.py checks this on the corpora and on random word salads).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

from hassil import Intents, RecognizeResult, recognize_best
from hassil.expression import Alternative, Expression, Group, Sentence, Sequence, TextChunk
from hassil.intents import Intent, IntentData, WildcardSlotList
from hassil.util import fold_case, normalize_for_matching, remove_skip_words_tracked

#: Clauses in conjunctive normal form: each must have one of its fragments in the request.
Clauses = frozenset[frozenset[str]]
#: Builds an expression's pruned copy from the fragments present in the request.
_Builder = Callable[[frozenset[str]], Expression]
#: Pruned copies remembered per template. A template has few distinct sets of its own words
#: present: the corpora's 1244 tagged texts made 1676 copies over 205 templates, 70 at most
#: for one; a copy shares the unpruned parts, a few kB at most.
_COPIES_LIMIT = 128


def _satisfied(clauses: Clauses, present: frozenset[str]) -> bool:
    """Whether every clause has a fragment among those present in the request."""
    return all(not clause.isdisjoint(present) for clause in clauses)


class _Template:
    """One template (a sentence or an expansion rule) and its pruned copies.

    A copy depends only on which of the fragments of the template's own alternatives are
    present (rules it refers to are pruned on their own), so copies are remembered by that
    set: it is a pure function of the template, never of the request or the company's data.
    """

    __slots__ = ("_build", "_copies", "clauses", "fragments", "sentence")

    def __init__(
        self, sentence: Sentence, clauses: Clauses, build: _Builder | None, fragments: set[str]
    ) -> None:
        self.sentence = sentence
        #: hassil's prefilter clauses of the whole template (see `TemplateMatcher`).
        self.clauses = clauses
        self.fragments = frozenset(fragments)
        self._build = build
        self._copies: dict[frozenset[str], Sentence] = {}

    def pruned(self, present: frozenset[str]) -> Sentence:
        """The template without the alternatives that need a fragment not present."""
        if self._build is None:
            return self.sentence
        key = present & self.fragments
        found = self._copies.get(key)
        if found is None:
            expression = self._build(present)
            if not isinstance(expression, type(self.sentence.expression)):
                # hassil looks at a template's top-level sequence (for wildcards at its ends):
                # keep its shape even when the pruned one collapsed to a single item.
                shape = type(self.sentence.expression)
                assert issubclass(shape, Group)  # only groups have builders
                expression = shape(items=[expression])
            found = Sentence(
                expression=expression,
                text=self.sentence.text,
                # The whole template's clauses, computed with the whole rules: pruned ones
                # could only be stricter, and hassil would cache whichever it saw first.
                required_clauses=self.clauses,
            )
            if len(self._copies) < _COPIES_LIMIT:
                self._copies[key] = found
        return found


class TemplateMatcher:
    """``recognize_best`` over templates pruned per request (see the module docstring)."""

    def __init__(self, intents: Intents, *, language: str) -> None:
        self.intents = intents
        self.language = language
        rules = intents.expansion_rules
        # An intent's own expansion rules would change what a rule name means inside its
        # templates, and a wildcard list makes hassil match some templates against other
        # texts (without the skip words at one end only). The templates have neither; with
        # either, the matcher does not prune and hassil sees the whole templates.
        datas = [data for intent in intents.intents.values() for data in intent.data]
        lists = [*intents.slot_lists.values()]
        lists += [slot_list for data in datas for slot_list in data.slot_lists.values()]
        self._enabled = not any(data.expansion_rules for data in datas) and not any(
            isinstance(slot_list, WildcardSlotList) for slot_list in lists
        )
        #: Every fragment any clause looks for: a request's are found once per request.
        self._fragments: set[str] = set()
        self._rules: dict[str, _Template] = {}
        #: The intents' data (each with its templates) in hassil's order, and every sentence
        #: template in that order with the index of its data.
        self._data: list[tuple[Intent, IntentData]] = []
        self._templates: list[tuple[int, _Template]] = []
        #: Templates (their indices) by a fragment of one of their clauses (at least one
        #: must be present), and those without clauses, which hassil always tries.
        self._by_fragment: dict[str, list[int]] = {}
        self._unfiltered: list[int] = []
        self._longest = 0
        if not self._enabled:
            return
        for name, rule in rules.items():
            own: set[str] = set()
            build = self._compile(rule.expression, own)
            self._rules[name] = _Template(rule, rule.get_required_clauses(rules), build, own)
        for intent in intents.intents.values():
            for data in intent.data:
                self._data.append((intent, data))
                for sentence in data.sentences:
                    own = set()
                    build = self._compile(sentence.expression, own)
                    template = _Template(
                        sentence, sentence.get_required_clauses(rules), build, own
                    )
                    self._index(len(self._templates), template)
                    self._templates.append((len(self._data) - 1, template))
        self._longest = max(map(len, self._fragments), default=0)

    def _index(self, index: int, template: _Template) -> None:
        """File a sentence template under the fragments of its smallest clause."""
        for clause in template.clauses:
            self._fragments.update(clause)
        if not template.clauses:
            self._unfiltered.append(index)
            return
        smallest = min(template.clauses, key=lambda c: (len(c), sorted(c)))
        for fragment in smallest:
            self._by_fragment.setdefault(fragment, []).append(index)

    def _compile(self, expression: Expression, own: set[str]) -> _Builder | None:
        """A builder of the expression's pruned copy, or None when nothing in it can be pruned
        (no alternatives inside: the expression is used as it is). ``own`` collects the
        fragments the alternatives look for."""
        if isinstance(expression, Alternative):
            rules = self.intents.expansion_rules
            items: list[tuple[Expression, Clauses, _Builder | None]] = []
            for item in expression.items:
                # The item on its own is a template: hassil's clauses are what it must find.
                clauses = Sentence(expression=item).get_required_clauses(rules)
                for clause in clauses:
                    own.update(clause)
                items.append((item, clauses, self._compile(item, own)))
            self._fragments.update(own)
            optional = expression.is_optional

            def alternative(present: frozenset[str]) -> Expression:
                kept = [
                    item if build is None else build(present)
                    for item, clauses, build in items
                    if _satisfied(clauses, present)
                ]
                # hassil matches an alternative by matching each item in turn: with one item
                # left («[всего]» without «всего» is the empty item), that item alone matches
                # the same, a level of generators less.
                if len(kept) == 1:
                    return kept[0]
                return Alternative(items=kept, is_optional=optional)

            return alternative
        if isinstance(expression, Group):
            parts = [(item, self._compile(item, own)) for item in expression.items]
            if all(build is None for _, build in parts):
                return None
            kind = type(expression)  # Sequence or Permutation: every item stays

            def group(present: frozenset[str]) -> Expression:
                built = [item if build is None else build(present) for item, build in parts]
                if kind is not Sequence:
                    # A permutation tries its items in every order, empty ones too: keep them.
                    return kind(items=built)
                # In a sequence an empty chunk passes every match on unchanged: leave it out,
                # and a sequence of one item matches as that item.
                built = [e for e in built if not (isinstance(e, TextChunk) and e.is_empty)]
                if not built:
                    return TextChunk.empty()  # matches as the empty chunks did: unchanged
                return built[0] if len(built) == 1 else Sequence(items=built)

            return group
        return None

    def _haystack(self, text: str) -> tuple[str, str]:
        """The request as hassil's prefilter reads it, folded (and as given, which can only
        let more through); and the folded text hassil removes skip words from."""
        with_skip = normalize_for_matching(text)
        texts = [text, with_skip.text]
        if self.intents.settings.ignore_whitespace:
            # Only there can removing skip words join letters into a new fragment; otherwise
            # a skip word becomes a space, and every fragment (which has no spaces) of the
            # text without skip words is already in the text with them.
            without_skip = with_skip.copy()
            remove_skip_words_tracked(without_skip, self.intents.skip_words, True)
            texts.append(without_skip.text)
        return "\n".join(fold_case(t) for t in texts), fold_case(with_skip.text)

    def _skip_words(self, folded: str) -> list[str]:
        """The skip words that occur in the text hassil removes them from (``folded``).

        hassil removes skip words with one regex of all of them (case-ignoring, as whole
        words), scanning the text with each alternative at each place: most of its cost. An
        alternative that is not in the text, even as a piece of a word, matches nowhere, so
        leaving it out changes nothing (`fold_case` unifies at least as much as the regex's
        case-ignoring). When none is in the text one absent word stays, so that hassil still
        takes its "skip words given" path (it tidies whitespace there) and matches nothing.
        """
        words = self.intents.skip_words
        return [w for w in words if fold_case(w.strip()) in folded] or words[:1]

    def pruned(self, text: str) -> Intents:
        """The templates with what cannot match ``text`` left out."""
        haystack, folded = self._haystack(text)
        present = self._present(haystack)
        candidates = set(self._unfiltered)
        for fragment in present:
            candidates.update(self._by_fragment.get(fragment, ()))
        kept: dict[int, list[Sentence]] = {}
        for index in sorted(candidates):  # hassil's order
            group, template = self._templates[index]
            # hassil's own prefilter, which it would apply to the whole templates.
            if _satisfied(template.clauses, present):
                kept.setdefault(group, []).append(template.pruned(present))
        intents: dict[str, Intent] = {}
        for group, sentences in kept.items():  # in hassil's order too
            intent, data = self._data[group]
            pruned = copy.copy(data)
            # `IntentData.sentences` is a functools.cached_property of a frozen dataclass: its
            # value lives in the instance's __dict__, where cached_property itself puts it.
            pruned.__dict__["sentences"] = sentences
            if intent.name not in intents:
                intents[intent.name] = Intent(name=intent.name, data=[])
            intents[intent.name].data.append(pruned)
        rules = {name: template.pruned(present) for name, template in self._rules.items()}
        return dataclasses.replace(
            self.intents,
            intents=intents,
            expansion_rules=rules,
            skip_words=self._skip_words(folded),
        )

    def _present(self, haystack: str) -> frozenset[str]:
        """The fragments that occur in the haystack.

        A fragment has no whitespace (hassil cuts them at whitespace), so it occurs exactly
        when it is a piece of one of the haystack's words: the pieces of its few words, up to
        the longest fragment, are fewer than the fragments.
        """
        longest = self._longest
        pieces = {
            word[start:end]
            for word in set(haystack.split())
            for start in range(len(word))
            for end in range(start + 1, min(len(word), start + longest) + 1)
        }
        present = pieces & self._fragments
        if "" in self._fragments:
            present.add("")  # in every text (never made by hassil; kept for exactness)
        return frozenset(present)

    def recognize(self, text: str) -> RecognizeResult | None:
        """What ``recognize_best(text, intents)`` returns, found faster."""
        intents = self.pruned(text) if self._enabled else self.intents
        return recognize_best(text, intents, language=self.language)
