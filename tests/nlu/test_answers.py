"""Regression floors on answers (not frames) to the independently written questions.

`tests/nlu/answer_eval.py` asks every question of `tests/nlu/answers/` through `Assistant.ask`
and the oracle (`tests/nlu/oracle.py`) checks each answer against facts computed from raw REST.
The floors are the figures measured when each split was first scored, raised as the engine
improves; a change that makes answers worse — above all one more wrong fact — fails here.
The oracle's own verdicts are tested first, so the floors cannot pass with a scorer that
accepts anything.
"""

from __future__ import annotations

import pytest

from tests.nlu.answer_eval import SPLITS, AnswerOutcome, evaluate, summarise
from tests.nlu.oracle import Facts, score

#: split → (answers correct %, at most this many wrong facts, at most this many
#: out-of-domain or write requests answered with data). First run: indep 57.2 % / 99 / 7,
#: heldout 60.4 % / 46 / 2 (the engine as it was before any tuning on these questions).
#: Since «мои …» (sign-in) an anonymous «у меня…» is asked to sign in instead of being
#: answered for nobody: three held-out questions moved from correct to declined.
#: Issue 11 (rule 1 checker, house filters, rank, company.info, house fields): indep
#: 89.9 % / 20 / 6, heldout 82.5 % / 17 / 2 (measured after rebasing onto «мои …»).
#: Issue 11, trustworthy answers (oracle fixes, «N числа» ahead, «1-4 декабря», two metrics,
#: unknown УК after «УК», orders, «бригады Смирнова», features and years not dropped): indep
#: 99.3 % / 0 / 0, heldout 85.7 % / 8 / 1.
#: A second independent writer (issue 14's round): fresh 90.8 % / 9 / 0 at its first run
#: (frozen); write requests, scored on their previews, 70.2 % / 1 and 73.9 % / 1 (frozen part)
#: at their first run, before any tuning on them.
#: A third writer's 300 questions to tune on (tune2): 90.1 % / 7 / 0 at their first run;
#: after tuning on them (names longer than the CRM's not found, self-introductions, the УК of
#: a house, bounds after the noun) and scoring its six unscorable items: tune2 95.7 % / 1 / 0,
#: indep 100 % / 0 / 0.
#: Tuning round 3 («из них» keeps the whole list, comparisons «X или Y», names in task and
#: event titles, departments, follow-ups, a second filter of one kind reported): tune2
#: 100 % / 0 / 0, indep 100 % / 0 / 0.
#: A fourth writer's 300 questions (tune3): 90.6 % / 6 / 0 before tuning round 4 (asides
#: about the speaker, «всего» totals, sizes per brigade, touching days joined by «и», a
#: second date reported, values of the asked house fact, exact positions in the oracle):
#: tune3 99.0 % / 0 / 0, heldout 90.9 % / 5 / 0, fresh 97.2 % / 2 / 0.
#: A fifth writer's 300 questions (tune4, ids divisible by 4 frozen as tune4_heldout), scored
#: once before any tuning on them (with a house schedule's own days, made for the writes
#: split): tune4 88.9 % / 10 / 1, tune4_heldout 94.7 % / 1 / 0; 90.2 % / 7 / 1 on tune4 once the
#: oracle filtered houses by a date (three answers were right).
#: Tuning round 5 on tune4 (statements and remarks beside a typed question, «мне» in a
#: statement, «задачи» sets the subject, a street in event names, a brigade's people by its
#: head, the crew note by its keys): tune4 96.4 % / 3 / 1, tune4_heldout 94.7 % / 1 / 0.
#: With ranges' both ends, things not heard as names, exclusions, finished tasks, stray
#: numbers and a house's next visit: tune4 98.2 % / 0 / 0, tune4_heldout 94.7 % / 1 / 0.
#: A sixth writer's 300 questions (tune5, ids divisible by 4 frozen as tune5_heldout), first
#: run before any tuning on them: tune5 93.3 % / 3 / 0, tune5_heldout 90.7 % / 3 / 1.
#: Tuning round 6 on tune5 (a named УК's address, «там … всего» keeps the set, stories,
#: apologies and requesters beside the question, a nominative first name asked back, a house
#: number picking the offered house, a town picking the street, «стоит в календаре», a verb
#: after «УК», «включительно», «а меньше всего», help and «слышишь меня»): tune5 100 % / 0 / 0,
#: heldout 91.6 % / 4 / 0, tune4_heldout 96.0 % / 0 / 0, tune5_heldout 92.0 % / 3 / 1.
#: A seventh writer's 200 questions (fresh2), scored whole before anything was read: 95.0 % /
#: 8 / 0 (odd ids 96.0 % / 2, even ids 94.0 % / 6). The even ids stay frozen
#: (fresh2_heldout); the odd ids' failures were read and fixed (an estate's name, a house fact
#: of a whole street, «для …:» before a question, «приятно познакомиться»): 100 % / 0 / 0.
FLOORS: dict[str, tuple[float, int, int]] = {
    "indep": (100.0, 0, 0),
    "tune2": (100.0, 0, 0),
    "tune3": (98.5, 0, 0),
    "heldout": (91.5, 4, 0),
    "fresh": (97.0, 2, 0),
    "tune4": (98.0, 0, 0),
    "tune4_heldout": (95.5, 0, 0),
    "tune5": (100.0, 0, 0),
    "tune5_heldout": (91.5, 3, 1),
    "fresh2": (100.0, 0, 0),
    "fresh2_heldout": (94.0, 6, 0),
    "writes": (100.0, 0, 0),
    "writes_heldout": (78.0, 1, 1),
}
#: Items the oracle cannot score yet (a query shape it does not compute), per split.
UNSCORABLE: dict[str, int] = {
    "fresh": 6,
    "tune2": 0,
    "tune3": 2,
    "tune4": 0,
    "tune4_heldout": 0,
    "tune5": 0,
    "tune5_heldout": 0,
}


def test_a_broader_total_is_a_wrong_fact() -> None:
    facts = Facts("answer", numbers=[71])
    assert score(facts, "Домов: 490.", intent="count", clarify=False).outcome == "wrong_fact"
    verdict = score(
        facts, "Бригада 4 (бригадир Коновалов): 71 дом.", intent="count", clarify=False
    )
    assert verdict.outcome == "correct"


def test_listing_outside_the_asked_set_is_a_wrong_fact() -> None:
    facts = Facts("answer", numbers=[2], allowed={"Кирова 3", "Ленина 5"})
    right = "Домов: 2.\n• Кирова 3 — бригада 6\n• Ленина 5 — бригада 6"
    wrong = "Домов: 2.\n• Кирова 38 — бригада 6\n• Ленина 5 — бригада 6"
    assert score(facts, right, intent="houses.list", clarify=False).outcome == "correct"
    assert score(facts, wrong, intent="houses.list", clarify=False).outcome == "wrong_fact"


def test_digits_inside_words_are_not_numbers() -> None:
    refusal = "Не знаю, кто вы в Bitrix24, поэтому ответить не могу."
    assert score(Facts("ood"), refusal, intent="count", clarify=False).outcome == "declined_ok"


def test_declines_and_data_for_requests_that_must_get_none() -> None:
    ood = Facts("ood")
    assert score(ood, "Я про погоду не знаю.", intent="unknown", clarify=False).outcome == (
        "declined_ok"
    )
    assert score(ood, "Домов: 490.", intent="count", clarify=False).outcome == "wrong_fact"
    missing = Facts("not_found")
    said = score(missing, "УК «рога и копыта» не нашёл.", intent="count", clarify=False)
    assert said.outcome == "declined_ok"
    assert score(missing, "Домов: 490.", intent="count", clarify=False).outcome == "wrong_fact"
    answerable = Facts("answer", numbers=[45])
    declined = score(answerable, "Не понял вопрос.", intent="unknown", clarify=False)
    assert declined.outcome == "wrong_decline"


def test_a_refusal_with_numbered_examples_gives_no_data() -> None:
    refusal = (
        "Не могу применить «петров» (сотрудник) к такому вопросу. Переформулируйте, "
        "например: «дома бригады 3»."
    )
    assert score(
        Facts("answer", numbers=[92]), refusal, intent="count", clarify=False
    ).outcome == ("wrong_decline")
    assert score(Facts("write"), refusal, intent="count", clarify=False).outcome == "declined_ok"


@pytest.fixture(scope="module")
def outcomes() -> list[AnswerOutcome]:
    import asyncio

    return asyncio.run(evaluate())


@pytest.mark.parametrize("split", SPLITS)
def test_answers_stay_above_their_floors(outcomes: list[AnswerOutcome], split: str) -> None:
    summary = summarise(outcomes, split)
    correct, wrong_facts, ood_with_data = FLOORS[split]
    assert summary.n > 20 and summary.unscorable <= UNSCORABLE.get(split, 5), summary
    assert summary.correct_pct >= correct, summary
    assert summary.wrong_facts <= wrong_facts, summary
    assert summary.ood_with_data <= ood_with_data, summary
