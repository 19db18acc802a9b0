"""`audiobot demo-portal` as a process: it serves, and stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_demo_portal_stops_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BITRIX_WEBHOOK_URL", None)
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "demo-portal", "--port", "0"],
        cwd=tmp_path,  # no .env here
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # printed once it listens
            assert line.startswith("Emulated Bitrix24 portal with the demo company: http://")
            url = line.rsplit(" ", 1)[1].strip()
            with urllib.request.urlopen(f"{url}profile.json", timeout=30) as response:
                assert response.status == 200
            started = time.monotonic()
            process.send_signal(signum)
            assert process.wait(timeout=20) == 0
            assert time.monotonic() - started < 10
        finally:
            if process.poll() is None:
                process.kill()
