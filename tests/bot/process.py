"""`audiobot run` in a child process (``python -m bot run``), for tests that ``kill -9`` it.

The fake Bot API and the emulated portal stay in the test's process, so they outlive the bot:
a restart finds the same Telegram (with whatever it did or did not confirm) and the same
state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from tests.bot.harness import TODAY, TOKEN

REPO = Path(__file__).resolve().parents[2]


def bot_env(
    telegram_url: str, bitrix_url: str, workdir: Path, users: list[int], **extra: str
) -> dict[str, str]:
    """The child's environment: only the settings given here (none of the developer's)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("API_", "BITRIX_", "TELEGRAM_", "VOSK_", "CACHE_", "STATE_"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_SERVER=telegram_url,
        BITRIX_WEBHOOK_URL=bitrix_url,
        ALLOWED_USER_IDS=",".join(str(u) for u in users),
        CACHE_DIR=str(workdir / "cache"),
        STATE_URL=f"sqlite:///{workdir / 'state.db'}",
        API_PORT="0",
        VOSK_MODEL_PATH=str(workdir / "no-model"),
        DEMO_DATE=TODAY.isoformat(),
        DIGEST_DAYS="off",
    )
    env.update(extra)
    return env


class BotProcess:
    """One run of the bot; `start` again after `kill` for the restart."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.runs = 0
        self.process: asyncio.subprocess.Process | None = None

    @property
    def log(self) -> Path:
        """Where the current run's stderr goes (read it when a test fails)."""
        return self.workdir / f"bot-{self.runs}.log"

    async def start(self) -> None:
        """Start a run (returns at once; wait for its first request at the fake)."""
        assert self.process is None or self.process.returncode is not None
        self.runs += 1
        with self.log.open("wb") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=self.workdir,  # no .env there
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )

    async def kill(self) -> None:
        """SIGKILL: no handler, no drain, no commit runs after this."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        async with asyncio.timeout(30.0):
            assert await self.process.wait() == -signal.SIGKILL

    async def stop(self) -> int:
        """SIGTERM and the graceful drain; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60.0):
            return await self.process.wait()

    def output(self) -> str:
        """Every run's stderr, for assertion messages."""
        return "\n".join(
            (self.workdir / f"bot-{n}.log").read_text(errors="replace")
            for n in range(1, self.runs + 1)
        )

    async def aclose(self) -> None:
        """Kill a run still going (a failed test)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30.0):
                    await self.process.wait()
