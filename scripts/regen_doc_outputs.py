"""Regenerate the "real output" blocks of the docs, or check that they are current.

Every sample of command output in the docs sits between markers::

    <!-- output: NAME -->
    ```console
    $ the command
    its output
    ```
    <!-- /output -->

This script runs each command against the embedded demo company with its day pinned
(``DEMO_DATE``=`DAY`), in-process but over real loopback HTTP: the HTTP API is served by
`handlers.http_api` and read with httpx; ``curl … | jq`` is shown as the command a reader would
type, and jq's formatting (``jq``: two-space indent; ``jq -c``: compact) is reproduced with
`json`. ``check-bitrix`` runs through `bot.cli.main` against an emulated portal.

    python scripts/regen_doc_outputs.py           # rewrite the blocks in place
    python scripts/regen_doc_outputs.py --check   # exit 1 when a block is stale

``--check`` ignores what changes from run to run (ages, latencies, seconds, times of day), so
it fails only when what a command says has changed; the test suite runs it
(``tests/test_doc_outputs.py``). A marker whose NAME this script does not know is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout: import the project itself
    sys.path.insert(0, str(ROOT))

import bot.runtime  # noqa: E402
from bitrix.client import BitrixClient  # noqa: E402
from bitrix.demo import build_demo_store  # noqa: E402
from bitrix.portal import PortalOptions, PortalThread  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.nlu.registry import REGISTRY  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from handlers.http_api import ApiServer, serve_api  # noqa: E402

#: The day every sample is dated (the docs' demo day).
DAY = date(2026, 11, 25)
#: The API token of the samples; commands show it as ``$API_TOKEN``.
TOKEN = "docs-sample-token-not-a-secret"
DOCS = ("docs/http-api.md", "docs/bitrix24-setup.md", "docs/intents.md")
BLOCK = re.compile(
    r"(<!-- output: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /output -->)", re.DOTALL
)
#: What differs between two runs of the same command on the same day.
VOLATILE = [
    (re.compile(r'("(?:uptime_s|data_age_s|cache_age_s|latency_ms)":\s*)[\d.]+'), r"\1#"),
    (re.compile(r'("fetched_at":\s*)"[^"]*"'), r"\1#"),
    (re.compile(r"\b\d+ ms\b"), "# ms"),
    (re.compile(r"\b\d+\.\d+ s\b"), "# s"),
]
#: Headers `curl -i` shows that say nothing about the API (left out of the samples).
SKIPPED_HEADERS = {"date", "server", "content-length"}


# ------------------------------------------------------------------------------- formatting
def jq(body: Any) -> str:
    """``| jq``: two-space indent, UTF-8 as is."""
    return json.dumps(body, ensure_ascii=False, indent=2)


def jq_c(body: Any) -> str:
    """``| jq -c``."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def with_headers(response: httpx.Response) -> str:
    """``curl -i``: the status line, the headers that matter, a blank line, the body."""
    lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
    lines += [
        f"{name.decode()}: {value.decode()}"
        for name, value in response.headers.raw  # as sent, not lower-cased
        if name.decode().lower() not in SKIPPED_HEADERS
    ]
    return "\n".join([*lines, "", response.text])


def console(*runs: tuple[str, str]) -> str:
    """A ```console block of ``$ command`` + output pairs."""
    text = "\n\n".join(f"$ {command}\n{output}" for command, output in runs)
    return f"```console\n{text}\n```\n"


# ------------------------------------------------------------------------------- the stack
def settings(cache_dir: Path, **values: Any) -> Settings:
    """Settings that read nothing from the machine (no .env; every relevant value explicit)."""
    defaults: dict[str, Any] = {
        "bitrix_webhook_url": None,
        "api_token": TOKEN,
        "demo_date": DAY,
        "timezone": "Europe/Moscow",
        "cache_dir": cache_dir,
        "vosk_model_path": None,
        "vosk_models_dir": cache_dir / "models",  # empty: no model, as on a fresh checkout
        "log_level": "WARNING",
    }
    return Settings(_env_file=None, **{**defaults, **values})


@contextlib.asynccontextmanager
async def api(
    config: Settings, *, speech: bool = True
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A `Runtime` (embedded demo unless configured) and the HTTP API; an httpx client."""
    runtime = await Runtime.create(config, speech=speech, notice=None)
    runtime.health_cache_seconds = 0
    server: ApiServer | None = await serve_api(runtime, config, port=0)
    assert server is not None
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
            yield runtime, client
    finally:
        await server.stop()
        await runtime.aclose()


AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "http://127.0.0.1:8001"


async def http_api_samples(tmp: Path) -> dict[str, str]:
    """Every block of docs/http-api.md."""
    out: dict[str, str] = {}
    async with api(settings(tmp / "main")) as (runtime, client):
        await runtime.cache.get()
        health = (await client.get("/api/health")).json()
        out["health-ok"] = console((f"curl -s {API}/api/health | jq", jq(health)))

        def get(path: str, **params: Any) -> Awaitable[httpx.Response]:
            return client.get(path, params=params, headers=AUTH)

        street = (await get("/api/cleaning/houses", street="Кондрово, Пушкина", limit=2)).json()
        page = (await get("/api/cleaning/houses", brigade=3, limit=1, offset=10)).json()
        first = page["items"][0]["address"] if page["items"] else None
        brief = {k: page[k] for k in ("total", "limit", "offset")} | {"first": first}
        out["houses"] = console(
            (
                f'curl -s -G -H "Authorization: Bearer $API_TOKEN" {API}/api/cleaning/houses \\\n'
                '       --data-urlencode "street=Кондрово, Пушкина" -d limit=2 | jq',
                jq(street),
            ),
            (
                f'curl -s -G -H "Authorization: Bearer $API_TOKEN" {API}/api/cleaning/houses \\\n'
                "       -d brigade=3 -d limit=1 -d offset=10 | jq -c "
                "'{total, limit, offset, first: .items[0].address}'",
                jq_c(brief),
            ),
        )
        for name, path, keep in (
            ("employees", "/api/dashboard/employees", 2),
            ("departments", "/api/dashboard/departments", 3),
        ):
            body = (await get(path)).json()
            body["items"] = body["items"][:keep]
            command = (
                f'curl -s -H "Authorization: Bearer $API_TOKEN" {API}{path} '
                f"| jq '.items |= .[:{keep}]'"
            )
            out[name] = console((command, jq(body)))
        stats = (await get("/api/dashboard/statistics")).json()
        out["statistics"] = console(
            (
                f'curl -s -H "Authorization: Bearer $API_TOKEN" {API}/api/dashboard/statistics '
                "| jq -c .",
                jq_c(stats),
            )
        )
        errors = [
            (
                f"curl -s -i {API}/api/dashboard/employees",
                with_headers(await client.get("/api/dashboard/employees")),
            ),
            (
                f'curl -s -H "Authorization: Bearer wrong" {API}/api/dashboard/employees',
                (
                    await client.get(
                        "/api/dashboard/employees", headers={"Authorization": "Bearer wrong"}
                    )
                ).text,
            ),
        ]
        async with api(settings(tmp / "open", api_token=None), speech=False) as (_, closed):
            errors.append(
                (
                    'curl -s -H "Authorization: Bearer $API_TOKEN" '
                    "http://127.0.0.1:8002/api/cleaning/houses   # no API_TOKEN configured",
                    (await closed.get("/api/cleaning/houses", headers=AUTH)).text,
                )
            )
        errors += [
            (
                f'curl -s -H "Authorization: Bearer $API_TOKEN" '
                f'"{API}/api/cleaning/houses?{query}"',
                (await client.get(f"/api/cleaning/houses?{query}", headers=AUTH)).text,
            )
            for query in ("limit=abc", "limit=1000")
        ]
        errors.append((f"curl -s {API}/api/nope", (await client.get("/api/nope")).text))
        errors.append(
            (f"curl -s -X POST {API}/api/health", (await client.post("/api/health")).text)
        )
        # The embedded portal stops: Bitrix24 is down, the snapshot still serves.
        assert runtime.portal is not None
        await asyncio.to_thread(runtime.portal.stop)
        health = (await client.get("/api/health")).json()
        brief = {
            "status": health["status"],
            "bitrix24": {k: health["bitrix24"][k] for k in ("reachable", "ok", "error")},
            "cache_age_s": health["cache_age_s"],
            "houses": health["houses"],
        }
        out["health-degraded"] = console(
            (
                f"curl -s {API}/api/health | jq -c '{{status, bitrix24: .bitrix24 | "
                "{reachable, ok, error}, cache_age_s, houses}'",
                jq_c(brief),
            )
        )
    # A portal that is gone from the first start: no data at all.
    dead = PortalThread(build_demo_store(DAY), PortalOptions())
    url = dead.start("127.0.0.1", 0)
    dead.stop()
    with no_retries():
        async with api(settings(tmp / "down", bitrix_webhook_url=url)) as (runtime, client):
            with contextlib.suppress(Exception):
                await runtime.cache.refresh()
            health_down = with_headers(await client.get("/api/health"))
            houses_down = with_headers(await client.get("/api/cleaning/houses", headers=AUTH))
    out["health-down"] = console(("curl -s -i http://127.0.0.1:8003/api/health", health_down))
    errors.append(
        (
            'curl -s -i -H "Authorization: Bearer $API_TOKEN" '
            "http://127.0.0.1:8003/api/cleaning/houses   # Bitrix24 down, no snapshot",
            houses_down,
        )
    )
    out["errors"] = console(*errors)
    return out


@contextlib.contextmanager
def no_retries() -> Iterator[None]:
    """The runtime's Bitrix24 client without retries: the same answer, seconds sooner."""
    names = vars(bot.runtime)
    names["BitrixClient"] = functools.partial(BitrixClient, max_retries=0)
    try:
        yield
    finally:
        names["BitrixClient"] = BitrixClient


def check_bitrix_sample() -> dict[str, str]:
    """docs/bitrix24-setup.md: `check-bitrix` on a portal whose webhook lacks the task scope."""
    from bot.cli import main  # noqa: PLC0415 - after sys.path is set

    scopes = {"crm", "user", "department", "calendar"}
    with PortalThread(build_demo_store(DAY), PortalOptions(scopes=scopes)) as portal:
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout), pinned_environment():
            code = main(["check-bitrix", portal.webhook_url])
    text = stdout.getvalue().rstrip("\n")
    assert code == 1, text  # a missing scope fails the check
    return {"check-bitrix-missing-scope": console(("audiobot check-bitrix", text))}


@contextlib.contextmanager
def pinned_environment() -> Iterator[None]:
    """The CLI reads its settings from the environment: pin the day, drop the machine's."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("BITRIX_", "VOSK_", "TELEGRAM_", "API_")):
            del os.environ[name]
    os.environ["DEMO_DATE"] = DAY.isoformat()
    os.environ["TIMEZONE"] = "Europe/Moscow"
    try:
        with tempfile.TemporaryDirectory() as empty:
            cwd = Path.cwd()
            os.chdir(empty)  # no .env
            try:
                yield
            finally:
                os.chdir(cwd)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def intents_table() -> str:
    """The intents table of docs/intents.md, from the intent registry (`registry.yaml`)."""
    rows = ["| intent | when | examples | slots |", "|---|---|---|---|"]
    for spec in REGISTRY:
        examples = ", ".join(f"«{e}»" for e in spec.examples)
        rows.append(f"| `{spec.name}` | {spec.when} | {examples} | {spec.doc_slots} |")
    # A blank line ends the table before the closing marker in every Markdown renderer.
    return "\n".join(rows) + "\n\n"


def generate() -> dict[str, str]:
    """Every block, by marker name."""
    with tempfile.TemporaryDirectory() as tmp:
        blocks = asyncio.run(http_api_samples(Path(tmp)))
    return blocks | check_bitrix_sample() | {"intents-table": intents_table()}


# ------------------------------------------------------------------------------- rewriting
def stable(text: str) -> str:
    """``text`` with what differs between runs masked."""
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def rewrite(text: str, blocks: dict[str, str], path: str) -> tuple[str, list[str]]:
    """``text`` with its marked blocks replaced; the names of blocks that changed materially."""
    stale: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            raise SystemExit(f"{path}: unknown output block {name!r}")
        if stable(match.group("body")) != stable(blocks[name]):
            stale.append(name)
        return match.group(1) + blocks[name] + match.group(4)

    return BLOCK.sub(replace, text), stale


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, verify) the output blocks of the docs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args(argv)
    # The samples' own warnings (no speech model, a stopped portal) are expected: keep quiet.
    logging.basicConfig(level=logging.ERROR)
    blocks = generate()
    used: set[str] = set()
    failed = False
    for relative in DOCS:
        path = ROOT / relative
        text = path.read_text(encoding="utf-8")
        used.update(m.group("name") for m in BLOCK.finditer(text))
        new, stale = rewrite(text, blocks, relative)
        if args.check:
            for name in stale:
                print(f"{relative}: output block {name!r} is stale", file=sys.stderr)
                failed = True
        elif new != text:
            path.write_text(new, encoding="utf-8")
            print(f"{relative}: rewritten ({', '.join(stale) or 'timings only'})")
    unused = sorted(set(blocks) - used)
    if unused:
        print(f"no marker for: {', '.join(unused)}", file=sys.stderr)
        failed = True
    if args.check and failed:
        print("run: python scripts/regen_doc_outputs.py", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
