"""Writes into Bitrix24 exactly once: attempts against objects created, under faults.

Each trial: one write request of the four kinds (SPEC §9) is previewed through
`Assistant.ask`, then confirmed by three presses at once from two replicas (two state-store
connections on one SQLite file, two Bitrix24 clients), while the emulated portal injects a
fault drawn from a seeded random choice:

- ``none``;
- ``drop_after`` — the write is applied, then the connection drops (the answer is lost);
- ``error500`` — a 500 after the write may have run;
- ``query_limit`` — 503 QUERY_LIMIT_EXCEEDED on every attempt (nothing written), cleared before
  the person presses ✅ again;
- ``crash`` — the process "dies" after the write reached Bitrix24 and before it was recorded
  (the claim stays running); the person presses again once the lease has run out.

After the presses, a trial whose outcome is not final is pressed again (up to 3 times, the
clock moved past the lease). Then the objects carrying the trial's key are counted in the
portal's store (what a later REST read returns). Also a ❌ trial per ten: nothing may exist.

Run: `.venv/bin/python bench/write_once.py [--trials 100] [--seed 7] [--transcripts]`.
``--transcripts`` prints one request of each kind from text to the object read back over REST.
Not a test: no assertions, a table.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bitrix.clock import FixedClock
from bitrix.demo import build_demo_store
from bitrix.portal import EmulatedPortal, Fault, PortalOptions, PortalStore
from bitrix.writes import BitrixWriter
from bot.actions import Actions, Actor, Plan
from bot.config import Settings
from bot.runtime import Runtime
from bot.state import open_state

TODAY = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
REQUESTS = {
    "house.problem": "на майской восемь сломан домофон",
    "house.done": "майская 8 убрали",
    "task.create": "поставь задачу ершовой проверить подвал на майской 12 до пятницы",
    "calendar.create": "планёрка в понедельник в 8:30",
}
FAULTS = ("none", "drop_after", "error500", "query_limit", "crash")
METHOD = {
    "house.problem": "tasks.task.add",
    "task.create": "tasks.task.add",
    "house.done": "crm.timeline.comment.add",
    "calendar.create": "calendar.event.add",
}


def objects_with(store: PortalStore, key: str) -> int:
    """Objects in the portal carrying the write's marker (tasks, comments, events)."""
    mark = f"[audiobot:{key}]"
    return (
        sum(mark in str(t.get("description", "")) for t in store.tasks.values())
        + sum(mark in str(c.get("COMMENT", "")) for c in store.timeline_comments.values())
        + sum(mark in str(e.get("DESCRIPTION", "")) for e in store.events)
    )


async def trial(
    runtime: Runtime,
    replica: Actions,
    portal: EmulatedPortal,
    clock: FixedClock,
    *,
    kind: str,
    fault: str,
    cancel: bool,
) -> tuple[int, int, int]:
    """One request: (✅ presses, objects created, HTTP write calls)."""
    actions = runtime.assistant.actions
    assert actions is not None
    actor = Actor("tg:1", "бенчмарк")
    reply = await runtime.assistant.ask(REQUESTS[kind], actor=actor)
    key = reply.confirm_key
    assert key, reply.text
    before = portal.count(METHOD[kind])
    if cancel:
        await actions.cancel(key, actor)
        results = await asyncio.gather(*(actions.confirm(key, actor) for _ in range(3)))
        return len(results), objects_with(portal.store, key), portal.count(METHOD[kind]) - before
    presses = 0
    if fault == "crash":
        claim = await runtime.state.claim_write(key, actor.id, 120.0, now=clock.now().timestamp())
        assert claim.payload is not None
        await actions._write(Plan.from_json(claim.payload), key, check_first=False)
    elif fault == "query_limit":
        portal.inject_fault(Fault.QUERY_LIMIT, method=METHOD[kind], count=1000)
    elif fault != "none":
        portal.inject_fault(Fault(fault), method=METHOD[kind])
    outcomes = list(
        await asyncio.gather(
            actions.confirm(key, actor), replica.confirm(key, actor), actions.confirm(key, actor)
        )
    )
    presses += 3
    portal.clear_faults()
    for _ in range(3):
        if any(o.kind in ("written", "done") for o in outcomes):
            break
        clock.advance(timedelta(minutes=3))  # the person comes back later
        outcomes = [await replica.confirm(key, actor)]
        presses += 1
    return presses, objects_with(portal.store, key), portal.count(METHOD[kind]) - before


async def transcripts(runtime: Runtime, portal: EmulatedPortal) -> None:
    """Each write intent from the request to the object read back over REST."""
    actions = runtime.assistant.actions
    assert actions is not None
    actor = Actor("tg:1", "Иванова Ольга (Telegram 1)")
    async with httpx.AsyncClient(base_url=portal.webhook_url, timeout=30) as http:
        for kind, text in REQUESTS.items():
            reply = await runtime.assistant.ask(text, actor=actor)
            print(f"\n### {kind}\n› {text}\n{reply.text}\n› ✅")
            outcome = await actions.confirm(reply.confirm_key, actor)
            print(outcome.text)
            assert outcome.written is not None
            number = outcome.written.id
            if outcome.written.kind == "task":
                body = {"taskId": number, "select": ["ID", "TITLE", "RESPONSIBLE_ID", "DEADLINE",
                                                     "UF_CRM_TASK", "DESCRIPTION"]}  # fmt: skip
                read = (await http.post("tasks.task.get.json", json=body)).json()
                if "error" in read:  # the emulator may not serve .get: read from the list
                    read = (await http.post("tasks.task.list.json", json={
                        "filter": {"ID": number},
                        "select": ["ID", "TITLE", "RESPONSIBLE_ID", "DEADLINE", "UF_CRM_TASK"],
                    })).json()  # fmt: skip
                print(f"REST tasks.task.list ID={number} → {read['result']}")
            elif outcome.written.kind == "comment":
                read = (
                    await http.post("crm.timeline.comment.get.json", json={"id": number})
                ).json()
                print(f"REST crm.timeline.comment.get id={number} → {read['result']}")
            else:
                read = (await http.post("calendar.event.get.json", json={
                    "type": "company_calendar", "ownerId": 0,
                    "from": "2026-11-30", "to": "2026-12-01",
                })).json()  # fmt: skip
                found = [e for e in read["result"] if str(e["ID"]) == str(number)]
                print(f"REST calendar.event.get → {found}")


async def main_async(trials: int, seed: int, show: bool) -> None:
    rng = random.Random(seed)
    store = build_demo_store(TODAY.date())
    clock = FixedClock(TODAY)
    with tempfile.TemporaryDirectory() as tmp:
        async with EmulatedPortal(store, PortalOptions()) as portal:
            settings = Settings(
                _env_file=None,
                bitrix_webhook_url=portal.webhook_url,
                cache_dir=Path(tmp) / "cache",
                state_url=f"sqlite:///{tmp}/state.db",
                photo_dir=Path(tmp) / "photos",
                api_port=0,
            )
            runtime = await Runtime.create(settings, notice=None, clock=clock)
            actions = runtime.assistant.actions
            assert actions is not None
            replica = Actions(
                state=open_state(f"sqlite:///{tmp}/state.db"),
                writer=BitrixWriter(runtime.client),
                tz=actions.tz,
                now=actions.now,
                portal_url=portal.webhook_url,
            )
            try:
                await runtime.assistant.warm_up()
                if show:
                    await transcripts(runtime, portal)
                rows: Counter[tuple[str, str]] = Counter()
                created: Counter[tuple[str, str]] = Counter()
                presses: Counter[tuple[str, str]] = Counter()
                calls: Counter[tuple[str, str]] = Counter()
                for n in range(trials):
                    kind = rng.choice(list(REQUESTS))
                    cancel = n % 10 == 9
                    fault = "cancel" if cancel else rng.choice(FAULTS)
                    pressed, objects, http = await trial(
                        runtime, replica, portal, clock, kind=kind, fault=fault, cancel=cancel
                    )
                    row = (fault, "❌" if cancel else "✅")
                    rows[row] += 1
                    created[row] += objects
                    presses[row] += pressed
                    calls[row] += http
                print(f"\n{'fault':12} {'trials':>6} {'✅ presses':>10} {'write calls':>11} "
                      f"{'objects':>8} {'expected':>8}")  # fmt: skip
                total = Counter[str]()
                for row in sorted(rows):
                    expected = 0 if row[1] == "❌" else rows[row]
                    print(f"{row[0]:12} {rows[row]:>6} {presses[row]:>10} {calls[row]:>11} "
                          f"{created[row]:>8} {expected:>8}")  # fmt: skip
                    total["trials"] += rows[row]
                    total["presses"] += presses[row]
                    total["objects"] += created[row]
                    total["expected"] += expected
                print(f"{'all':12} {total['trials']:>6} {total['presses']:>10} {'':>11} "
                      f"{total['objects']:>8} {total['expected']:>8}")  # fmt: skip
            finally:
                await replica.state.close()
                await runtime.aclose()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the trials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--transcripts", action="store_true")
    args = parser.parse_args(argv)
    # The client's retry warnings under injected 503s would bury the table.
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main_async(args.trials, args.seed, args.transcripts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
