"""`audiobot check-bitrix` and `audiobot fields`, run in-process against a live emulated portal.

Each test runs `bot.cli.main([...])` as the console script would (its own event loop), against
a `PortalThread` serving a demo company, and reads what a person would read on stdout/stderr.
The webhook's secret code must never appear in either.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bitrix.demo import DemoLayout, build_demo
from bitrix.demo.builder import DemoCompany
from bitrix.portal import PortalOptions, PortalStore, PortalThread
from bot.cli import main

SECRET = "s3cretWebhookCode77"
WRONG = "wrongWebhookCode42"
#: The day every command in these tests runs on (``DEMO_DATE``), whatever the real date.
TODAY = date(2026, 11, 25)


@dataclass
class Run:
    """One command run: exit code and its output."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No `.env`, no Bitrix settings from the machine; logging handlers removed afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith(("BITRIX_", "TELEGRAM_", "LOG_LEVEL", "CACHE_DIR", "TIMEZONE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEMO_DATE", TODAY.isoformat())
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_audiobot", False):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="module")
def demo() -> DemoCompany:
    return build_demo(TODAY)


def _portal(store: PortalStore, **options: object) -> PortalThread:
    return PortalThread(store, PortalOptions(token=SECRET, **options))  # type: ignore[arg-type]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run the CLI; every run also asserts that no webhook code leaked."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert SECRET not in text
        assert WRONG not in text
    return Run(code, captured.out, captured.err)


def _line(output: str, start: str) -> str:
    """The first output line that starts (after indentation) with ``start``."""
    for line in output.splitlines():
        if line.strip().startswith(start):
            return line.strip()
    raise AssertionError(f"no line starting with {start!r} in:\n{output}")


def _check(output: str, mark: str, title: str) -> str:
    """The detail of the checklist line ``<mark> <title>   <detail>``."""
    pattern = re.compile(rf"^\s*{re.escape(mark)} {re.escape(title)}(?:\s{{2,}}(.*))?$")
    for line in output.splitlines():
        match = pattern.match(line)
        if match:
            return match.group(1) or ""
    raise AssertionError(f"no line {mark} {title!r} in:\n{output}")


# ------------------------------------------------------------------------ check-bitrix
def test_check_passes_on_the_demo_portal(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany
) -> None:
    truth = demo.truth
    with _portal(demo.store) as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url)
        requests = [r.method for r in portal.portal.requests]
    assert result.code == 0, result.out
    out = result.out
    assert "Portal: 127.0.0.1, webhook of user 1" in out
    assert _check(out, "✓", "reachable").endswith(" ms")
    assert _check(out, "✓", "credentials")
    for scope in ("crm", "user", "department", "task", "calendar"):
        assert _check(out, "✓", f"scope {scope}")
    assert _check(out, "✓", "company load").endswith(" s")
    assert "2 HTTP requests" in _check(out, "✓", "company load")
    assert "34 «Уборка подъездов»" in _check(out, "✓", "houses pipeline")
    assert _check(out, "✓", "houses").endswith("490 serviced houses")
    assert f"{len(truth.closed_house_ids)} excluded" in _check(out, "·", "lost houses")
    assert f"{len(truth.other_deal_ids)} deals excluded" in _check(out, "·", "other pipelines")
    assert _check(out, "·", "employees").split()[0] == str(len(truth.people_ids))
    assert "6 brigades" in _check(out, "·", "departments")
    assert f"{len(truth.company_ids)} management companies" in _check(out, "·", "companies")
    assert "490/490 houses have one" in _check(out, "✓", "brigades")
    for role in ("address", "apartments", "entrances", "floors"):
        assert f"{truth.field_codes[role]} «" in _check(out, "✓", role)
    for month in truth.months:
        for period in (1, 2):
            pair = _check(out, "✓", f"schedule {month.key} #{period}")
            assert truth.field_codes[f"date:{month.key}:{period}"] in pair
            assert truth.field_codes[f"type:{month.key}:{period}"] in pair
    assert out.rstrip().endswith("Result: PASSED — every required check passed.")
    # `scope`, the load (two batches), then one count of the other pipelines' deals.
    assert requests == ["scope", "batch", "batch", "crm.deal.list"]


@pytest.mark.parametrize("layout", [DemoLayout.alternative(), DemoLayout.enum_brigade()])
def test_check_maps_other_layouts_fully(
    capsys: pytest.CaptureFixture[str], layout: DemoLayout
) -> None:
    demo = build_demo(TODAY, layout=layout)
    with _portal(demo.store) as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url)
    assert result.code == 0, result.out
    out = result.out
    pipeline = _check(out, "✓", "houses pipeline")
    assert f"{layout.category_id} «{layout.category_name}»" in pipeline
    assert _check(out, "✓", "houses").endswith("490 serviced houses")
    assert "490/490 houses have one" in _check(out, "✓", "brigades")
    assert f"«{layout.apartments_label}»" in _check(out, "✓", "apartments")
    assert f"«{layout.floors_label}»" in _check(out, "✓", "floors")
    if layout.name == "enum_brigade":
        assert f"{demo.truth.field_codes['brigade']} «Бригада»" in _check(out, "✓", "brigade")
    assert "!" not in [line.strip()[:1] for line in out.splitlines()]


def test_check_wrong_token(capsys: pytest.CaptureFixture[str], demo: DemoCompany) -> None:
    with _portal(demo.store) as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url.replace(SECRET, WRONG))
        loaded = portal.portal.count("batch")
    assert result.code == 1
    assert _check(result.out, "✓", "reachable")
    assert "INVALID_CREDENTIALS" in _check(result.out, "✗", "credentials")
    assert "создайте новый входящий вебхук" in result.out
    assert _check(result.out, "·", "company load").endswith("skipped: fix the checks above first")
    assert "Result: FAILED — credentials." in result.out
    assert loaded == 0


def test_check_missing_scope_is_named(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany
) -> None:
    with _portal(demo.store, scopes={"crm", "user", "department", "calendar"}) as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url)
        deal_pages = portal.portal.count("crm.deal.list")
    assert result.code == 1
    assert "NOT granted" in _check(result.out, "✗", "scope task")
    assert _check(result.out, "✓", "scope calendar")
    assert _check(result.out, "✗", "missing scopes").endswith("task")
    assert "Добавьте вебхуку права «task»" in result.out
    assert "Result: FAILED — scope task." in result.out
    # The mapping needs only crm, so it is still shown; the company itself is not loaded.
    assert _check(result.out, "✓", "apartments")
    assert deal_pages == 0


def test_check_stopped_portal(capsys: pytest.CaptureFixture[str], demo: DemoCompany) -> None:
    portal = _portal(demo.store)
    url = portal.start()
    portal.stop()
    result = run(capsys, "check-bitrix", url)
    assert result.code == 1
    assert "no answer" in _check(result.out, "✗", "reachable")
    assert "Не удаётся подключиться к порталу" in result.out
    assert "Result: FAILED — reachable." in result.out


def test_check_unknown_host(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "check-bitrix", f"https://portal.invalid/rest/1/{SECRET}/")
    assert result.code == 1
    assert "Portal: portal.invalid, webhook of user 1" in result.out
    assert "cannot connect to portal.invalid" in _check(result.out, "✗", "reachable")


def test_check_moved_portal(capsys: pytest.CaptureFixture[str], demo: DemoCompany) -> None:
    with _portal(demo.store, moved_to="https://new-name.bitrix24.ru") as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url)
    assert result.code == 1
    assert "moved to new-name.bitrix24.ru" in _check(result.out, "✗", "reachable")
    assert "Портал Bitrix24 переехал на new-name.bitrix24.ru" in result.out


def test_check_invalid_url(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "check-bitrix", f"https://portal.example/{SECRET}")
    assert result.code == 2
    assert "✗ webhook URL: invalid webhook URL: path must be /rest/USER_ID/CODE/" in result.out


def test_check_wrong_category_override(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BITRIX_HOUSES_CATEGORY_ID", "99")
    with _portal(demo.store) as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url)
    assert result.code == 1
    assert "configured houses category 99 does not exist" in _check(
        result.out, "✗", "field mapping"
    )
    assert "Исправьте BITRIX_HOUSES_CATEGORY_ID" in result.out


def test_check_empty_pipeline_fails(capsys: pytest.CaptureFixture[str], demo: DemoCompany) -> None:
    store = demo.store.clone()
    store.deals = {k: v for k, v in store.deals.items() if v["CATEGORY_ID"] != "34"}
    with _portal(store) as portal:
        result = run(capsys, "check-bitrix", portal.webhook_url)
    assert result.code == 1
    assert _check(result.out, "✗", "houses").endswith("0 serviced houses")
    assert "Result: FAILED — houses." in result.out


def test_check_reads_the_url_from_settings(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _portal(demo.store) as portal:
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", portal.webhook_url)
        result = run(capsys, "check-bitrix")
    assert result.code == 0
    assert "embedded" not in result.out + result.err


def test_check_without_any_url_says_no_webhook_is_configured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "check-bitrix")
    assert result.code == 2
    assert "✗ no Bitrix24 webhook is configured" in result.out
    assert "BITRIX_WEBHOOK_URL=" in result.out
    assert "audiobot check-bitrix --demo" in result.out
    assert "PASSED" not in result.out
    assert "embedded" not in result.err  # no portal was started


def test_check_demo_checks_the_embedded_portal(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "check-bitrix", "--demo")
    assert result.code == 0, result.out
    assert "Portal: embedded demo portal (http://127.0.0.1:" in result.out
    assert _check(result.out, "✓", "houses").endswith("490 serviced houses")
    assert "Result: PASSED" in result.out


def test_check_demo_ignores_the_configured_webhook(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = _portal(demo.store)
    url = portal.start()
    portal.stop()  # the configured portal is dead; --demo must not touch it
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", url)
    result = run(capsys, "check-bitrix", "--demo")
    assert result.code == 0, result.out
    assert "Portal: embedded demo portal" in result.out


def test_check_url_and_demo_together_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "check-bitrix", "--demo", f"https://portal.example/rest/1/{SECRET}/")
    assert result.code == 2
    assert "either WEBHOOK_URL or --demo" in result.out


def test_check_malformed_configured_url_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", f"https://portal.example/{SECRET}")
    result = run(capsys, "check-bitrix")
    assert result.code == 2
    assert "✗ webhook URL: invalid webhook URL" in result.out


# ------------------------------------------------------------------------ fields
#: Demo layout roles of the crew's fields → the mapping role they are found as.
_CREW_ROLES = {"comment": "note", "intercom": "intercom", "house_type": "house_type",
               "elevators": "lifts"}  # fmt: skip


def test_fields_lists_every_custom_field_with_its_role(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany
) -> None:
    truth = demo.truth
    with _portal(demo.store) as portal:
        result = run(capsys, "fields", portal.webhook_url)
        requests = portal.portal.request_count
    assert result.code == 0, result.out
    out = result.out
    assert "Houses pipeline: 34 «Уборка подъездов»" in out
    assert "lost stages (not houses): C34:APOLOGY, C34:LOSE" in out
    table = out.split("Custom deal fields", 1)[1]
    for field in demo.store.deal_userfields:
        assert _line(table, field["FIELD_NAME"])
    roles = {code: role for role, code in truth.field_codes.items()}
    for code, role in roles.items():
        row = _line(table, code).split()
        if role in ("address", "apartments", "entrances", "floors"):
            assert row[-1] == role
            assert "discovered by label" in _line(out, role)
        elif role.startswith(("date:", "type:")):
            kind, month, period = role.split(":")
            assert row[-3:] == ["date" if kind == "date" else "type", month, f"#{period}"]
        elif role in _CREW_ROLES:
            # The crew's facts of a house (intercom code, note, type, lifts) are mapped too.
            assert row[-1] == _CREW_ROLES[role]
        else:
            assert row[-1] == "—"
    assert "brigade" in _line(out, "brigade ") and "not mapped" in _line(out, "brigade ")
    assert requests == 1


def test_fields_shows_configured_overrides(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = demo.truth.field_codes["elevators"]  # «Количество лифтов»: any code will do
    monkeypatch.setenv("BITRIX_FIELD_FLOORS", extra)
    monkeypatch.setenv("BITRIX_HOUSES_CATEGORY_ID", "34")
    with _portal(demo.store) as portal:
        result = run(capsys, "fields", portal.webhook_url)
    assert result.code == 0, result.out
    assert "configured: BITRIX_HOUSES_CATEGORY_ID=34" in result.out
    floors = _line(result.out, "floors ")
    assert extra in floors and "configured (BITRIX_FIELD_FLOORS)" in floors
    assert _line(result.out, extra).endswith("floors")
    assert _line(result.out, demo.truth.field_codes["floors"]).endswith("—")


def test_fields_wrong_override_still_lists_the_fields(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BITRIX_FIELD_APARTMENTS", "UF_CRM_NO_SUCH")
    with _portal(demo.store) as portal:
        result = run(capsys, "fields", portal.webhook_url)
    assert result.code == 1
    assert "configured field UF_CRM_NO_SUCH for apartments does not exist" in result.out
    assert "Проверьте BITRIX_FIELD_APARTMENTS" in result.out
    assert _line(result.out, demo.truth.field_codes["apartments"])


def test_fields_without_a_webhook_says_it_shows_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "fields")
    assert result.code == 0, result.out
    assert result.out.startswith("No Bitrix24 webhook is configured: this is the embedded demo")
    assert result.err.count("BITRIX_WEBHOOK_URL is not set") == 1
    assert "Houses pipeline: 34 «Уборка подъездов»" in result.out


def test_fields_demo_is_quiet_about_the_missing_webhook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "fields", "--demo")
    assert result.code == 0, result.out
    assert "No Bitrix24 webhook" not in result.out
    assert result.err == ""
    assert "Portal: embedded demo portal" in result.out


def test_fields_on_the_alternative_layout(capsys: pytest.CaptureFixture[str]) -> None:
    demo = build_demo(TODAY, layout=DemoLayout.alternative())
    with _portal(demo.store) as portal:
        result = run(capsys, "fields", portal.webhook_url)
    assert result.code == 0
    assert "Houses pipeline: 12 «Обслуживание домов» — found by name" in result.out
    for role in ("address", "apartments", "entrances", "floors"):
        assert _line(result.out, demo.truth.field_codes[role]).endswith(role)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"token": WRONG}, "INVALID_CREDENTIALS"),
        ({"scopes": {"user"}}, "insufficient_scope"),
    ],
)
def test_fields_errors(
    capsys: pytest.CaptureFixture[str],
    demo: DemoCompany,
    options: dict[str, object],
    expected: str,
) -> None:
    with PortalThread(demo.store, PortalOptions(**options)) as portal:  # type: ignore[arg-type]
        url = portal.webhook_url.replace(WRONG, SECRET)
        result = run(capsys, "fields", url)
    assert result.code == 1
    assert expected in _line(result.out, "✗ cannot read the deal fields")


def test_verbose_logs_hold_no_secret(
    capsys: pytest.CaptureFixture[str], demo: DemoCompany
) -> None:
    with _portal(demo.store) as portal:
        result = run(capsys, "--verbose", "check-bitrix", portal.webhook_url)
    assert result.code == 0
    assert "INFO bitrix.loader: fetched the company from Bitrix24" in result.err
