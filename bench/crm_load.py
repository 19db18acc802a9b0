"""Benchmark: load the demo company from the emulated portal, then query the snapshot warm.

Prints one table, goals next to the figures:

- **cold load** — `CompanyLoader.fetch` of the demo company (490 houses, 82 people, …) with a
  fresh loader: HTTP requests (counted by the portal, in-process run), requests that carry the
  houses' ``crm.deal.list`` pages, and seconds (median of ``--runs``) against a portal in a
  *separate process* — on loopback, and with 100 ms latency per request plus the 2/s bucket
  of a real cloud portal;
- **peak memory** of a cold load plus snapshot build (tracemalloc, our process only: the
  portal lives in the other process), and the snapshot's retained size;
- **snapshot build** — `CompanySnapshot(raw)` (median of ``--runs``);
- **language engine build** — `bot.nlu.engine.LanguageEngine(snapshot)` (median of
  ``--runs``; the morphology dictionary is loaded once beforehand and reported apart);
- **warm queries** — p50/p95/max over ``--queries`` mixed snapshot queries (houses by
  brigade / company / street, house_at, visits on a day and in a week, people by brigade /
  position, statistics, overdue tasks and tasks of a day, events of a week), drawn with a
  fixed seed, then p95 per kind.

Goals (the issue): cold load in ≤ 3 requests for houses and ≤ 10 in all; warm p95 ≤ 1 ms.
Run: ``.venv/bin/python bench/crm_load.py [--runs 3] [--queries 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import random
import statistics
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from multiprocessing.queues import Queue
from zoneinfo import ZoneInfo

from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import CompanySnapshot, MappingOptions, RawCompanyData
from bitrix.demo import build_demo_store
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions

TIMEZONE = "Europe/Moscow"
TZ = ZoneInfo(TIMEZONE)
#: The benchmark's day: figures do not depend on when it runs.
CLOCK = FixedClock(datetime(2026, 11, 25, 10, tzinfo=TZ))
TODAY = CLOCK.today()
OPTIONS = MappingOptions()
LATENCY = 0.1
GOAL_HOUSE_REQUESTS = 3
GOAL_REQUESTS = 10
GOAL_P95_MS = 1.0


# ------------------------------------------------------------------------------- portal
def _serve(latency: float, bucket: bool, urls: Queue[str]) -> None:
    """Child process: the demo portal on a free loopback port until terminated."""
    options = PortalOptions(latency=latency, bucket=bucket)
    portal = EmulatedPortal(build_demo_store(TODAY, timezone=TIMEZONE), options)
    asyncio.run(portal.serve_forever("127.0.0.1", 0, ready=urls.put))


class PortalProcess:
    """The emulated portal in its own process, so our timings and memory are ours alone."""

    def __init__(self, *, latency: float = 0.0, bucket: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._urls: Queue[str] = context.Queue()
        self._process = context.Process(
            target=_serve, args=(latency, bucket, self._urls), daemon=True
        )

    def __enter__(self) -> str:
        self._process.start()
        return self._urls.get(timeout=60)

    def __exit__(self, *exc_info: object) -> None:
        self._process.terminate()
        self._process.join(10)


# ------------------------------------------------------------------------------- loading
async def _fetch(url: str) -> tuple[RawCompanyData, float, int]:
    async with BitrixClient(url) as client:
        loader = CompanyLoader(client, tz=TZ, options=OPTIONS, clock=CLOCK)
        started = time.perf_counter()
        raw = await loader.fetch()
        return raw, time.perf_counter() - started, client.stats.requests


async def count_requests() -> tuple[int, int, RawCompanyData]:
    """(HTTP requests, requests with deal pages, raw data) of one cold load, portal-counted."""
    async with EmulatedPortal(
        build_demo_store(TODAY, timezone=TIMEZONE), PortalOptions()
    ) as portal:
        raw, _, _ = await _fetch(portal.webhook_url)
        houses = sum(1 for r in portal.requests if "crm.deal.list" in r.sub_methods)
        return portal.request_count, houses, raw


def cold_seconds(url: str, runs: int) -> float:
    """Median seconds of a cold `CompanyLoader.fetch` against ``url``."""
    return statistics.median(asyncio.run(_fetch(url))[1] for _ in range(runs))


def peak_memory(url: str) -> tuple[float, float]:
    """(peak MiB during a cold load + snapshot build, MiB the snapshot retains)."""
    gc.collect()
    tracemalloc.start()
    try:
        raw, _, _ = asyncio.run(_fetch(url))
        snapshot = CompanySnapshot(raw, tz=TZ, options=OPTIONS, clock=CLOCK)
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del snapshot
    return peak / 2**20, retained / 2**20


def median_seconds(make: Callable[[], object], runs: int) -> float:
    """Median seconds of ``make()`` over ``runs`` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        make()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# ------------------------------------------------------------------------------- queries
Query = tuple[str, Callable[[], object]]


def make_queries(snapshot: CompanySnapshot, count: int, seed: int = 1) -> list[Query]:
    """``count`` mixed queries over the snapshot, drawn with a fixed seed."""
    rng = random.Random(seed)
    today = TODAY
    now = CLOCK.now()
    brigades = sorted(snapshot.brigades)
    companies = [c.id for c, n in snapshot.companies_with_counts() if n]
    streets = list(snapshot.streets())
    houses = list(snapshot.houses)
    positions = ["Уборщ", "Бригадир", "Менеджер", "Диспетчер"]

    def day() -> date:
        return today + timedelta(days=rng.randint(-20, 30))

    def one() -> Query:
        kind = rng.choice(KINDS)
        if kind == "houses by brigade":
            number = rng.choice(brigades)
            return kind, lambda: snapshot.houses_where(brigade=number)
        if kind == "houses by company":
            company = rng.choice(companies)
            return kind, lambda: snapshot.houses_where(company_id=company)
        if kind == "houses by street":
            street = rng.choice(streets)
            return kind, lambda: snapshot.houses_where(street=street)
        if kind == "house_at":
            house = rng.choice(houses)
            key = (house.address.town, house.address.street_key)
            return kind, lambda: snapshot.house_at(key, house.address.number_key)
        if kind == "visits on a day":
            first = day()
            return kind, lambda: snapshot.visits_between(first, first)
        if kind == "visits in a week":
            first = day()
            return kind, lambda: snapshot.visits_between(first, first + timedelta(days=6))
        if kind == "people by brigade":
            number = rng.choice(brigades)
            return kind, lambda: snapshot.people(brigade=number)
        if kind == "people by position":
            position = rng.choice(positions)
            return kind, lambda: snapshot.people(position=position)
        if kind == "statistics":
            return kind, snapshot.statistics
        if kind == "tasks overdue":
            return kind, lambda: snapshot.tasks_where(overdue=True, now=now)
        if kind == "tasks of a day":
            first = day()
            return kind, lambda: snapshot.tasks_where(start=first, end=first, now=now)
        first = day()
        return kind, lambda: snapshot.events_between(first, first + timedelta(days=6))

    return [one() for _ in range(count)]


KINDS = (
    "houses by brigade",
    "houses by company",
    "houses by street",
    "house_at",
    "visits on a day",
    "visits in a week",
    "people by brigade",
    "people by position",
    "statistics",
    "tasks overdue",
    "tasks of a day",
    "events of a week",
)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def time_queries(queries: list[Query]) -> dict[str, list[float]]:
    """Milliseconds per query, by kind (after one untimed warm-up pass)."""
    for _, run in queries[:50]:
        run()
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, run in queries:
        started = time.perf_counter_ns()
        run()
        by_kind[kind].append((time.perf_counter_ns() - started) / 1e6)
    return by_kind


# ------------------------------------------------------------------------------- report
@dataclass
class Line:
    """One row of the table."""

    what: str
    value: str
    goal: str = ""
    verdict: str = ""


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_table(lines: list[Line]) -> None:
    """The table, aligned."""
    widths = [max(len(getattr(line, f)) for line in lines) for f in ("what", "value", "goal")]
    head = Line("measure", "figure", "goal", "")
    for line in [head, *lines]:
        print(
            f"{line.what:<{widths[0]}}  {line.value:>{widths[1]}}  "
            f"{line.goal:<{widths[2]}}  {line.verdict}".rstrip()
        )
        if line is head:
            print("-" * (sum(widths) + 12))


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=3, help="runs per timed build or load")
    parser.add_argument("--queries", type=int, default=1000, help="warm queries to time")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    build_demo_store(TODAY, timezone=TIMEZONE)
    demo_seconds = time.perf_counter() - started

    requests, house_requests, raw = asyncio.run(count_requests())
    with PortalProcess() as url:
        loopback = cold_seconds(url, args.runs)
        peak, retained = peak_memory(url)
    with PortalProcess(latency=LATENCY, bucket=True) as url:
        remote = cold_seconds(url, args.runs)

    snapshot_seconds = median_seconds(
        lambda: CompanySnapshot(raw, tz=TZ, options=OPTIONS, clock=CLOCK), args.runs
    )
    snapshot = CompanySnapshot(raw, tz=TZ, options=OPTIONS, clock=CLOCK)

    from bot.nlu.engine import LanguageEngine
    from bot.nlu.morph import default_morph

    morph_seconds = median_seconds(default_morph, 1)
    engine_seconds = median_seconds(lambda: LanguageEngine(snapshot), args.runs)

    by_kind = time_queries(make_queries(snapshot, args.queries))
    every = [ms for values in by_kind.values() for ms in values]
    p50, p95 = percentile(every, 0.5), percentile(every, 0.95)

    print(
        f"Demo company: {len(snapshot.houses)} houses, {len(snapshot.employees)} people, "
        f"{len(snapshot.tasks)} tasks, {len(snapshot.events)} events, {len(raw.deals)} deals "
        f"fetched (generated in {demo_seconds:.2f} s)"
    )
    lines = [
        Line(
            "cold load: HTTP requests",
            str(requests),
            f"≤ {GOAL_REQUESTS}",
            _verdict(requests <= GOAL_REQUESTS),
        ),
        Line(
            "cold load: requests with houses",
            str(house_requests),
            f"≤ {GOAL_HOUSE_REQUESTS}",
            _verdict(house_requests <= GOAL_HOUSE_REQUESTS),
        ),
        Line("cold load, loopback (s)", f"{loopback:.3f}"),
        Line(f"cold load, {LATENCY * 1000:.0f} ms latency + bucket (s)", f"{remote:.3f}"),
        Line("cold load + snapshot: peak memory (MiB)", f"{peak:.1f}"),
        Line("snapshot retained (MiB)", f"{retained:.1f}"),
        Line("snapshot build (s)", f"{snapshot_seconds:.3f}"),
        Line("morphology load, once per process (s)", f"{morph_seconds:.3f}"),
        Line("language engine build (s)", f"{engine_seconds:.3f}"),
        Line(f"warm query p50 (ms, {len(every)} queries)", f"{p50:.3f}"),
        Line(
            "warm query p95 (ms)",
            f"{p95:.3f}",
            f"≤ {GOAL_P95_MS:g} ms",
            _verdict(p95 <= GOAL_P95_MS),
        ),
        Line("warm query max (ms)", f"{max(every):.3f}"),
    ]
    lines += [
        Line(f"  p95 {kind} (ms, n={len(values)})", f"{percentile(values, 0.95):.3f}")
        for kind, values in sorted(by_kind.items())
    ]
    print_table(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
