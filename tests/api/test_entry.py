"""`python -m handlers.http_api`: the API alone on the embedded demo portal, run by an operator."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx

from tests.api.conftest import AUTH, TOKEN

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0  # imports and the demo portal take ~2 s; a loaded CI machine more


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any AudioBot setting of the developer's shell."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("API_", "BITRIX_", "TELEGRAM_", "VOSK_", "CACHE_"))
    }
    env["PYTHONPATH"] = str(REPO)
    env["CACHE_DIR"] = str(tmp_path / "cache")
    env.update(extra)
    return env


async def test_serves_the_demo_until_sigterm(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handlers.http_api",
        "--port",
        "0",
        cwd=tmp_path,  # no .env here
        env=clean_env(tmp_path, API_TOKEN=TOKEN),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        url = None
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while url is None:
                line = (await process.stderr.readline()).decode()
                assert line, f"exited early: {''.join(seen)}"
                seen.append(line)
                match = re.search(r"HTTP API on (http://127\.0\.0\.1:\d+)/api/health", line)
                url = match.group(1) if match else None
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
            health = await client.get("/api/health")
            assert health.status_code == 200
            assert health.json()["bitrix24"]["embedded_demo"] is True
            houses = await client.get("/api/cleaning/houses", params={"limit": 1}, headers=AUTH)
            assert houses.json()["total"] == 490
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20.0):
            rest = (await process.stderr.read()).decode()
            code = await process.wait()
        assert code == 0, rest
        assert "HTTP API stopped" in rest
        assert TOKEN not in "".join(seen) + rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_api_port_zero_means_off(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handlers.http_api",
        cwd=tmp_path,
        env=clean_env(tmp_path, API_PORT="0"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(STARTUP_TIMEOUT):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"API_PORT=0" in err
