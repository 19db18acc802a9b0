"""The request corpus itself is consistent with the contract and the demo company."""

from __future__ import annotations

from tests.nlu.corpus.validate import validate


def test_corpus_is_valid() -> None:
    report = validate()
    assert report.errors == []
