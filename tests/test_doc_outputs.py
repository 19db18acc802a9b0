"""The docs' "real output" blocks match what the commands print (scripts/regen_doc_outputs.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_doc_output_blocks_are_current() -> None:
    # A subprocess: the script pins its own day and environment, as a person running it would.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regen_doc_outputs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
