"""`.env.example` can be copied to `.env` as is without undoing anyone's settings.

`docker run --env-file .env` and systemd's `EnvironmentFile=` give every active line, even an
empty `NAME=`, precedence over what the image (`ENV`) or the unit (`Environment=`) sets, so the
file keeps every variable commented out; each one it names is a real setting.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_no_variable_is_set_by_the_example() -> None:
    active = [
        line
        for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert active == []


def test_every_variable_named_is_a_setting() -> None:
    names = re.findall(r"^# ([A-Z][A-Z0-9_]*)=", EXAMPLE.read_text(encoding="utf-8"), re.M)
    assert {"API_HOST", "CACHE_DIR", "VOSK_MODEL_PATH", "TELEGRAM_BOT_TOKEN"} <= set(names)
    assert sorted(set(names) - {name.upper() for name in Settings.model_fields}) == []


def test_the_example_as_env_file_gives_the_defaults(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    assert Settings(_env_file=env) == Settings(_env_file=None)
