"""Kill -9 at random moments of a 50-user burst: is every message answered exactly once?

Each trial: the bot (``python -m bot run``, a child process) polls the fake Bot API; 50 users
write at once; after a random delay (seeded) the bot gets SIGKILL; it is started again on the
same state file and Telegram, and stopped with SIGTERM once every user has an answer (or after
``--answer-timeout`` seconds). Answers per user are counted at the fake: once, twice (or more),
never. The emulated portal serves the demo company; nothing leaves loopback.

Run: `.venv/bin/python bench/kill_trials.py [--trials 20] [--users 50] [--seed 13]
[--max-delay-ms 250]`. Not a test: no assertions, a table.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bitrix.demo import build_demo_store
from bitrix.portal import EmulatedPortal, PortalOptions
from tests.bot.harness import TODAY, TOKEN
from tests.bot.process import BotProcess, bot_env
from tests.fakes.telegram import FakeTelegram

QUESTION = "дома бригады 3"
ANSWER_START = "Бригада 3"
STARTUP_S = 120.0


def answers(fake: FakeTelegram, chat_id: int) -> int:
    return sum(1 for m in fake.sent_messages(chat_id) if m.text.startswith(ANSWER_START))


async def trial(
    portal: EmulatedPortal, workdir: Path, users: list[int], delay_s: float, answer_timeout: float
) -> tuple[int, int, int, str]:
    """One kill and restart; returns (once, twice or more, never, what was in flight)."""
    async with FakeTelegram(token=TOKEN, hold_updates=True) as fake:
        bot = BotProcess(bot_env(fake.base_url, portal.webhook_url, workdir, users), workdir)
        try:
            await bot.start()
            await fake.wait_for(lambda: fake.parked_polls > 0 or None, STARTUP_S)
            for user in users:
                await fake.send_text(user, QUESTION)
            await fake.release_updates()
            await asyncio.sleep(delay_s)  # the random kill point (the point of the bench)
            before = sum(1 for u in users if answers(fake, u))
            confirmed = len(fake.confirmed_update_ids)
            await bot.kill()
            moment = f"{before} answered, {confirmed} acknowledged"
            await bot.start()
            try:
                await fake.wait_for(
                    lambda: all(answers(fake, u) for u in users) or None, answer_timeout
                )
            except AssertionError:
                moment += " (restart timed out)"
            await bot.stop()
        finally:
            await bot.aclose()
        counts = [answers(fake, u) for u in users]
    return (
        sum(1 for c in counts if c == 1),
        sum(1 for c in counts if c >= 2),
        sum(1 for c in counts if c == 0),
        moment,
    )


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    users = list(range(7001, 7001 + args.users))
    store = build_demo_store(TODAY)
    totals = [0, 0, 0]
    print(f"{'trial':>5} {'kill at':>8} {'once':>5} {'twice':>6} {'never':>6}  at the kill")
    started = time.monotonic()
    async with EmulatedPortal(store, PortalOptions()) as portal:
        for number in range(1, args.trials + 1):
            delay = rng.uniform(0, args.max_delay_ms / 1000)
            with tempfile.TemporaryDirectory(prefix="kill-trial-") as tmp:
                once, twice, never, moment = await trial(
                    portal, Path(tmp), users, delay, args.answer_timeout
                )
            totals[0] += once
            totals[1] += twice
            totals[2] += never
            print(
                f"{number:>5} {delay * 1000:>6.0f}ms {once:>5} {twice:>6} {never:>6}  {moment}",
                flush=True,
            )
    messages = args.trials * args.users
    print(
        f"trials {args.trials}, messages {messages}: answered once {totals[0]}, "
        f"twice {totals[1]}, never {totals[2]} ({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-delay-ms", type=float, default=250.0)
    parser.add_argument("--answer-timeout", type=float, default=120.0)
    asyncio.run(main(parser.parse_args()))
