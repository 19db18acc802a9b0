"""Bitrix24 going away: answers from the last snapshot with its age, or a clear failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitrix.errors import BitrixError
from bitrix.portal import PortalStore
from tests.bot.harness import ADMIN, USER, running_bot


async def test_portal_stopped_mid_session_answers_stale_with_age(
    store: PortalStore, tmp_path: Path
) -> None:
    async with running_bot(store, tmp_path, retries=False) as bot:
        [fresh] = await bot.say(USER, "дома бригады 3")
        assert "⚠️" not in fresh.text
        await bot.portal.stop()
        # The next refresh (the background loop's, forced here) fails...
        with pytest.raises(BitrixError):
            await bot.runtime.cache.refresh()
        # ...and answers keep coming from the snapshot, saying how old it is and why.
        [stale] = await bot.say(USER, "дома бригады 5")
        assert stale.text.startswith("Бригада 5:")
        assert "⚠️" in stale.text
        assert "Данные от " in stale.text
        assert "только что" in stale.text or "мин назад" in stale.text
        [report] = await bot.say(ADMIN, "/health")
        assert report.text.startswith("⚠️ Состояние: работает с ограничениями")


async def test_no_snapshot_and_no_portal_is_a_clear_failure(
    store: PortalStore, tmp_path: Path
) -> None:
    async with running_bot(store, tmp_path, retries=False, portal_running=False) as bot:
        [reply] = await bot.say(USER, "дома бригады 3")
        assert "Сохранённых данных нет, поэтому ответить не могу." in reply.text
        assert "Бригада 3:" not in reply.text
        # Help still helps without data.
        [help_reply] = await bot.say(USER, "/help")
        assert "«дома бригады 3»" in help_reply.text
        [report] = await bot.say(ADMIN, "/health")
        assert report.text.startswith("⛔ Состояние: не работает")
