"""A burst of monitoring checks costs Bitrix24 one request, not one each."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bitrix.demo import build_demo

from .conftest import TODAY, api_stack


async def test_concurrent_health_checks_share_one_probe(tmp_path: Path) -> None:
    async with api_stack(build_demo(TODAY), tmp_path) as stack:
        stack.runtime.health_cache_seconds = 10.0
        before = stack.portal.count("scope")
        answers = await asyncio.gather(*(stack.client.get("/api/health") for _ in range(30)))
        assert {a.status_code for a in answers} == {200}
        assert stack.portal.count("scope") - before == 1
