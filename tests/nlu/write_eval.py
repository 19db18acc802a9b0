"""Scoring write requests (SPEC §9) at the answer level: the preview is the answer.

An item of ``writes.yaml`` (written independently, see ``answers/fresh-and-writes.md``) says
what a preview must show: the kind of write, the house's deal, the responsible person, the
date (and time) and a word of the title. What the bot would write is read from the preview's
`bot.actions.Plan` — exactly what ✅ writes — and compared with the item; people are looked up
by full name in raw REST (`user.get`), not through the code under test.

Outcomes, as for questions (`tests.nlu.oracle.Score`):

- ``correct`` — the preview writes what was asked, where it was asked;
- ``wrong_fact`` — a preview that would write to another house, person or day, or of another
  kind, or any preview for a request that must get none (an unknown house, namesakes, a
  question that only looks like a write): the worst outcome, as it could be confirmed;
- ``declined_ok`` — no preview where none may be made (asked back or refused);
- ``wrong_decline`` — no preview for a request that should have one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.actions import Plan
from bot.brain import Reply
from tests.nlu.oracle import Score

WRITE_INTENTS = frozenset({"house.done", "house.problem", "task.create", "calendar.create"})


def is_write_reply(reply: Reply) -> bool:
    """Whether the bot took the request as a write (a preview, or a question about one)."""
    return reply.write is not None


def score_write(item: dict[str, Any], reply: Reply, people: dict[str, str]) -> Score:
    """Score the reply to a write request; ``people`` maps full names to user ids (raw REST)."""
    plan = reply.write.plan if reply.write is not None else None
    expect = item["expect"]
    if expect != "write":
        if plan is not None:
            return Score("wrong_fact", f"a preview ({plan.intent}) for a request to {expect}")
        return Score("declined_ok", "no preview")
    if plan is None:
        said = reply.text.replace("\n", " ")[:120]
        return Score("wrong_decline", f"no preview: {said}")
    wanted = item["write"]
    problems = _differences(wanted, plan, people)
    if problems:
        return Score("wrong_fact", "; ".join(problems))
    return Score("correct", "the preview writes what was asked")


def _differences(wanted: dict[str, Any], plan: Plan, people: dict[str, str]) -> list[str]:
    problems = []
    if plan.intent != wanted["kind"]:
        problems.append(f"kind {plan.intent} ≠ {wanted['kind']}")
    deal = wanted.get("deal_id")
    if deal is not None and str(plan.deal_id) != str(deal):
        problems.append(f"deal {plan.deal_id} ≠ {deal} ({wanted.get('house')})")
    if deal is None and plan.deal_id is not None and wanted["kind"] != "calendar.create":
        problems.append(f"bound to deal {plan.deal_id}, none asked")
    responsible = wanted.get("responsible")
    if responsible and wanted["kind"] in ("house.problem", "task.create"):
        expected_id = people.get(responsible)
        if expected_id is None:
            problems.append(f"no user {responsible!r} in REST")
        elif str(plan.responsible_id) != expected_id:
            problems.append(f"responsible {plan.responsible} ≠ {responsible}")
    moment = plan.begins if plan.intent == "calendar.create" else plan.deadline
    when = wanted.get("when")
    if when is not None:
        if moment is None:
            problems.append(f"no date, {when} asked")
        elif datetime.fromisoformat(moment).date().isoformat() != str(when):
            problems.append(f"date {moment[:10]} ≠ {when}")
    time = wanted.get("time")
    if (
        time is not None
        and moment is not None
        and datetime.fromisoformat(moment).strftime("%H:%M") != str(time).zfill(5)
    ):
        problems.append(f"time {moment[11:16]} ≠ {time}")
    word = str(wanted.get("summary") or "").lower()
    if word and plan.intent != "house.done" and word[:5] not in plan.title.lower():
        problems.append(f"title «{plan.title}» lacks «{word}»")
    return problems
