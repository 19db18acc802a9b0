"""`audiobot run` refuses to start when `CACHE_DIR` cannot be written (one clear line, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from handlers.app import cache_dir_problem, run_bot
from tests.bot.harness import TOKEN


def test_a_writable_cache_dir_is_created(tmp_path: Path) -> None:
    target = tmp_path / "var" / "cache"
    assert cache_dir_problem(target) is None
    assert target.is_dir()
    assert list(target.iterdir()) == []  # the probe file is gone


def test_an_unwritable_cache_dir_stops_run_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A regular file where a directory should be: unwritable even for root (tests may run as
    # root, for whom permission bits do not matter).
    blocker = tmp_path / "var"
    blocker.write_text("not a directory")
    settings = Settings(_env_file=None, telegram_bot_token=TOKEN, cache_dir=blocker / "cache")
    assert run_bot(settings) == 2
    err = capsys.readouterr().err
    assert f"CACHE_DIR {blocker / 'cache'} is not writable" in err
    assert TOKEN not in err
    assert len(err.strip().splitlines()) == 1


def test_an_unwritable_state_store_directory_stops_run_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        cache_dir=tmp_path / "cache",
        state_url=f"sqlite:///{blocker / 'state.db'}",
    )
    assert run_bot(settings) == 2
    err = capsys.readouterr().err
    assert f"STATE_URL ({blocker / 'state.db'}) is not writable" in err
    assert len(err.strip().splitlines()) == 1
