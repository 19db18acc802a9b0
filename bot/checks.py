"""`audiobot check-bitrix` and `audiobot fields`: the Bitrix24 integration seen by an operator.

``check-bitrix [WEBHOOK_URL]`` is a checklist (English, ✓/✗ lines; hints for the portal admin
in Russian, the admin's language): reachability and latency (`bitrix.probe.probe_portal`),
credentials, each needed scope, then a real load of the company (`CompanyLoader.fetch` +
`CompanySnapshot`) with its counts, HTTP requests and seconds, and the field mapping found.
Exit code 0 only when every *required* check passes: the portal is reachable, the webhook is
accepted, every scope is granted, the houses pipeline is found and holds at least one house.
Unmapped fields, houses without a brigade and the like are warnings (``!``).

``fields [WEBHOOK_URL]`` shows how the CRM fields were mapped — discovered by label or
configured (``BITRIX_FIELD_*``, ``BITRIX_HOUSES_CATEGORY_ID``, ``BITRIX_HOUSES_PIPELINE_NAME``,
``BITRIX_BRIGADE_SOURCE``) — and lists every custom deal field with its type, label and role,
so an admin can see why a field was or was not picked. It needs only the ``crm`` scope and one
HTTP request.

The URL argument overrides ``BITRIX_WEBHOOK_URL``. ``--demo`` runs either command against the
embedded demo portal instead. With neither a URL nor ``--demo``:

- ``check-bitrix`` refuses (exit 2) and says that no webhook is configured and how to set one:
  a self-test that silently passed on the demo company would tell an operator whose ``.env``
  was not read that their portal is fine;
- ``fields`` still shows the demo portal's mapping (it is informational and never decides
  anything), and says so on stdout, above the mapping, as well as once on stderr.

The webhook's secret code is never printed: the portal is shown as its host and the webhook
owner's user id.

Exit codes: 0 passed; 1 a required check failed (``fields``: the mapping failed or the fields
could not be read); 2 no webhook configured (``check-bitrix`` without ``--demo``), a malformed
webhook URL (argument or ``BITRIX_WEBHOOK_URL``), a WEBHOOK_URL given together with ``--demo``,
or another invalid setting.

Public API: `run_checks` → `CheckReport` (`render_checks`), `describe_fields` →
`FieldsReport` (`render_fields`), `add_commands` for `bot.cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any, Literal, TextIO

from bitrix.client import BitrixClient, ListRequest
from bitrix.clock import Clock
from bitrix.company import CompanySnapshot, MappingOptions
from bitrix.errors import (
    WEBHOOK_SETTINGS_PATH,
    BitrixAuthError,
    BitrixConfigError,
    BitrixError,
    BitrixHTTPError,
    BitrixMappingError,
    BitrixPortalMoved,
    BitrixTransportError,
)
from bitrix.loader import CompanyLoader
from bitrix.mapping import ROLE_TITLES, FieldMapping, build_mapping
from bitrix.probe import NEEDED_SCOPES, WRITE_SCOPES, ProbeResult, probe_portal

Status = Literal["ok", "fail", "warn", "info"]

#: One retry, short backoff: a check should report a dead portal in a second, not after the
#: client's usual five retries with exponential backoff (which suit the running bot).
CHECK_RETRIES = 1
CHECK_BACKOFF = 0.2

NO_WEBHOOK = (
    "AudioBot — Bitrix24 integration check\n"
    "✗ no Bitrix24 webhook is configured: nothing to check.\n"
    "    Set BITRIX_WEBHOOK_URL=https://<portal>/rest/<user>/<code>/ in the environment or .env\n"
    "    (docs/bitrix24-setup.md), or pass the URL: audiobot check-bitrix WEBHOOK_URL.\n"
    "    `audiobot check-bitrix --demo` checks the embedded demo portal instead.\n"
)
FIELDS_ON_DEMO = (
    "No Bitrix24 webhook is configured: this is the embedded demo portal's mapping, not your "
    "portal's.\nSet BITRIX_WEBHOOK_URL or pass WEBHOOK_URL for yours (--demo skips this note).\n"
)

_MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "warn": "!", "info": "·"}
_ROLE_ENV = {role: f"BITRIX_FIELD_{role.upper()}" for role in ROLE_TITLES}
_ROLE_LOSS = {
    "address": "answers show the deal title only (no full address, no coordinates)",
    "apartments": "apartment counts and totals are unavailable",
    "entrances": "entrance counts and totals are unavailable",
    "floors": "floor counts and totals are unavailable",
}
_SOURCE_NAMES = {
    "auto": "auto (field «Бригада» → responsible named like a brigade → responsible's department)",
    "field": "the enumeration field «Бригада»",
    "responsible_name": "the responsible user named like a brigade («3 бригада»)",
    "responsible_department": "the responsible user's department («Бригада 3»)",
}


# ------------------------------------------------------------------------------- reports
@dataclass(frozen=True)
class Check:
    """One line of the checklist.

    ``required`` checks decide the exit code; ``hint`` is the Russian advice for the portal
    admin (an error's ``admin_hint`` where there is one).
    """

    status: Status
    title: str
    detail: str = ""
    hint: str | None = None
    required: bool = False

    @property
    def failed(self) -> bool:
        """A required check that did not pass."""
        return self.required and self.status == "fail"


@dataclass
class CheckReport:
    """The whole checklist, in sections, plus what a caller may want to assert on."""

    portal: str
    sections: list[tuple[str, list[Check]]] = field(default_factory=list)
    probe: ProbeResult | None = None
    snapshot: CompanySnapshot | None = None
    mapping: FieldMapping | None = None
    load_requests: int | None = None
    load_seconds: float | None = None

    def section(self, title: str) -> list[Check]:
        """A new section to append checks to."""
        checks: list[Check] = []
        self.sections.append((title, checks))
        return checks

    @property
    def checks(self) -> list[Check]:
        """Every check in order."""
        return [check for _, checks in self.sections for check in checks]

    @property
    def failures(self) -> list[Check]:
        """Required checks that failed."""
        return [check for check in self.checks if check.failed]

    @property
    def passed(self) -> bool:
        """True when every required check passed (exit code 0)."""
        return not self.failures


@dataclass(frozen=True)
class CustomField:
    """One custom deal field as the portal describes it."""

    code: str
    type: str
    multiple: bool
    labels: tuple[str, ...]
    options: int

    @property
    def label(self) -> str:
        """The label an admin sees (the code when the field has none)."""
        return self.labels[0] if self.labels else self.code


@dataclass
class FieldsReport:
    """What `audiobot fields` prints."""

    portal: str
    options: MappingOptions
    categories: list[tuple[int, str]]
    fields: list[CustomField]
    mapping: FieldMapping | None
    error: BitrixError | None = None

    def role_of(self, code: str) -> str | None:
        """The role the mapping gave a field ("apartments", "schedule date 2026-11 #1")."""
        if self.mapping is None:
            return None
        for role, ref in self.mapping.roles.items():
            if ref.code == code:
                return role
        for slot in self.mapping.schedule:
            month = f"{slot.year}-{slot.month:02d}"
            if slot.date_field.code == code:
                return f"schedule date {month} #{slot.index}"
            if slot.type_field is not None and slot.type_field.code == code:
                return f"schedule type {month} #{slot.index}"
        return None


# ------------------------------------------------------------------------------- running
async def run_checks(
    client: BitrixClient,
    options: MappingOptions,
    *,
    tz: tzinfo,
    portal: str,
    clock: Clock,
) -> CheckReport:
    """Run every check against the portal behind ``client``; never raises `BitrixError`."""
    report = CheckReport(portal=portal)
    connection = report.section("Connection")
    probe = await probe_portal(client)
    report.probe = probe
    connection.extend(_connection_checks(probe))
    scopes = report.section("Scopes")
    scopes.extend(_scope_checks(probe))
    day = clock.today()
    data = report.section("Company data")
    if probe.ok:
        await _load_checks(report, data, client, options, tz=tz, clock=clock)
    else:
        data.append(Check("info", "company load", "skipped: fix the checks above first"))
        if probe.error is None and probe.granted is not None and "crm" in probe.granted:
            # The mapping needs only crm: show it, so the admin can fix both at once.
            try:
                report.mapping = (await _discover(client, options, day))[0]
            except BitrixError as exc:
                data.append(_error_check("field mapping", exc, required=True))
    if report.mapping is not None:
        report.sections.append(("Field mapping", _mapping_checks(report.mapping, report.snapshot)))
    return report


def _connection_checks(probe: ProbeResult) -> list[Check]:
    error = probe.error
    latency = f"answered in {probe.latency_s * 1000:.0f} ms" if probe.latency_s else "answered"
    if error is None:
        return [
            Check("ok", "reachable", f"`scope` {latency}", required=True),
            Check("ok", "credentials", "the webhook is accepted", required=True),
        ]
    if isinstance(error, BitrixPortalMoved):
        where = f" to {error.location_host}" if error.location_host else ""
        return [
            Check(
                "fail",
                "reachable",
                f"the portal has moved{where} (HTTP {error.status} redirect)",
                error.admin_hint,
                required=True,
            ),
            Check("info", "credentials", "not checked"),
        ]
    if isinstance(error, BitrixTransportError | BitrixHTTPError) or not probe.reachable:
        what = "no answer" if isinstance(error, BitrixTransportError) else "not a Bitrix24 answer"
        return [
            Check("fail", "reachable", f"{what}: {error}", error.admin_hint, required=True),
            Check("info", "credentials", "not checked"),
        ]
    kind = "the webhook is not accepted" if isinstance(error, BitrixAuthError) else "refused"
    return [
        Check("ok", "reachable", f"the portal {latency}", required=True),
        Check("fail", "credentials", f"{kind}: {error}", error.admin_hint, required=True),
    ]


def _scope_checks(probe: ProbeResult) -> list[Check]:
    if probe.granted is None:
        return [Check("info", "scopes", "not checked (no answer to `scope`)")]
    checks = [
        Check(
            "ok" if scope in probe.granted else "fail",
            f"scope {scope}",
            purpose if scope in probe.granted else f"NOT granted — needed for: {purpose}",
            required=True,
        )
        for scope, purpose in NEEDED_SCOPES.items()
    ]
    # Writes (SPEC §9) are optional: a missing write scope disables only those writes, so it
    # is a warning with its purpose, never a failed check.
    checks += [
        Check(
            "ok" if scope in probe.granted else "warn",
            f"write scope {scope}",
            purpose
            if scope in probe.granted
            else f"not granted — the bot cannot write: {purpose}",
        )
        for scope, purpose in WRITE_SCOPES.items()
    ]
    missing = probe.missing
    if missing:
        names = ", ".join(f"«{s}»" for s in missing)
        # The per-scope lines above decide the exit code; this one carries the admin's hint.
        checks.append(
            Check(
                "fail",
                "missing scopes",
                ", ".join(missing),
                f"Добавьте вебхуку права {names}: {WEBHOOK_SETTINGS_PATH} → Права доступа, "
                "отметьте их и сохраните (адрес вебхука не меняется).",
            )
        )
    return checks


async def _load_checks(
    report: CheckReport,
    data: list[Check],
    client: BitrixClient,
    options: MappingOptions,
    *,
    tz: tzinfo,
    clock: Clock,
) -> None:
    loader = CompanyLoader(client, tz=tz, options=options, clock=clock)
    try:
        raw = await loader.fetch()
        snapshot = CompanySnapshot(raw, tz=tz, options=options, clock=clock)
    except BitrixMappingError as exc:
        data.append(_error_check("field mapping", exc, required=True))
        return
    except BitrixError as exc:
        data.append(_error_check("company load", exc, required=True))
        return
    stats = loader.last_stats
    report.snapshot, report.mapping = snapshot, snapshot.mapping
    if stats is not None:
        report.load_requests, report.load_seconds = stats.requests, stats.seconds
        data.append(
            Check("ok", "company load", f"{stats.requests} HTTP requests, {stats.seconds:.2f} s")
        )
    pipeline = snapshot.mapping.pipeline
    data.append(
        Check(
            "ok",
            "houses pipeline",
            f"{pipeline.id} «{pipeline.name}» ({_pipeline_origin(pipeline.origin, options)})",
            required=True,
        )
    )
    houses = len(snapshot.houses)
    data.append(
        Check(
            "ok" if houses else "fail",
            "houses",
            f"{houses} serviced houses",
            None
            if houses
            else (
                f"В воронке «{pipeline.name}» нет действующих сделок-домов: проверьте воронку "
                "(BITRIX_HOUSES_CATEGORY_ID) и стадии сделок."
            ),
            required=True,
        )
    )
    in_pipeline = [
        d for d in raw.deals if str(d.get("CATEGORY_ID", "0") or "0") == str(pipeline.id)
    ]
    lost = sum(1 for d in in_pipeline if str(d.get("STAGE_ID", "")) in pipeline.lost_stages)
    stages = ", ".join(sorted(pipeline.lost_stages))
    data.append(Check("info", "lost houses", f"{lost} excluded (stages {stages})"))
    data.append(await _other_pipelines(client, pipeline.id))
    if snapshot.skipped_deals:
        sample = "; ".join(f"{i} «{t}»" for i, t in snapshot.skipped_deals[:3])
        data.append(
            Check(
                "warn",
                "deals skipped",
                f"{len(snapshot.skipped_deals)} titles are not addresses: {sample}",
                "Название сделки-дома должно быть адресом («Пролетарская 112/1»).",
            )
        )
    inactive = len(snapshot.all_people) - len(snapshot.employees)
    service = len(snapshot.service_accounts)
    people = f"{len(snapshot.employees)} active ({inactive} inactive"
    people += f", {service} brigade service accounts not counted)" if service else ")"
    data.append(Check("info", "employees", people))
    data.append(
        Check(
            "info",
            "departments",
            f"{len(snapshot.departments)} ({len(snapshot.brigades)} brigades: "
            + ", ".join(str(n) for n in sorted(snapshot.brigades))
            + ")",
        )
    )
    stats_ = snapshot.statistics()
    data.append(
        Check(
            "info",
            "companies",
            f"{len(snapshot.companies)} management companies "
            f"({stats_.houses_without_company} houses without one)",
        )
    )
    data.append(Check("info", "tasks", f"{len(snapshot.tasks)}"))
    data.append(Check("info", "calendar events", f"{len(snapshot.events)} around today"))
    data.append(_brigade_check(snapshot))


async def _other_pipelines(client: BitrixClient, pipeline_id: int) -> Check:
    try:
        response = await client.call(
            "crm.deal.list",
            {"filter": {"!CATEGORY_ID": pipeline_id}, "select": ["ID"], "start": 0},
        )
    except BitrixError as exc:
        return Check("warn", "other pipelines", f"deals not counted: {exc}")
    count = response.total if response.total is not None else len(response.result or [])
    return Check("info", "other pipelines", f"{count} deals excluded (+1 request to count)")


def _brigade_check(snapshot: CompanySnapshot) -> Check:
    mapping = snapshot.mapping
    total = len(snapshot.houses)
    with_brigade = sum(1 for h in snapshot.houses if h.brigade is not None)
    found = []
    if "brigade" in mapping.roles:
        ref = mapping.roles["brigade"]
        found.append(f"field {ref.code} «{ref.label}»")
    if snapshot.service_accounts:
        found.append(f"{len(snapshot.service_accounts)} users named like brigades")
    if snapshot.department_brigade:
        found.append(f"{len(snapshot.department_brigade)} brigade departments")
    detail = (
        f"{with_brigade}/{total} houses have one; source: "
        f"{_SOURCE_NAMES.get(mapping.brigade_source, mapping.brigade_source)}; "
        f"found: {', '.join(found) or 'nothing that names a brigade'}"
    )
    if total and with_brigade == total:
        return Check("ok", "brigades", detail)
    return Check(
        "warn",
        "brigades",
        detail,
        "У части домов не определяется бригада. Укажите источник в BITRIX_BRIGADE_SOURCE "
        "(responsible_name, responsible_department или field с BITRIX_FIELD_BRIGADE) или "
        "назначьте ответственных по этим домам.",
    )


def _error_check(title: str, exc: BitrixError, *, required: bool) -> Check:
    return Check("fail", title, str(exc), exc.admin_hint, required=required)


def _pipeline_origin(origin: str, options: MappingOptions) -> str:
    if origin == "configured id":
        return f"configured: BITRIX_HOUSES_CATEGORY_ID={options.category_id}"
    if origin == "configured name":
        return f"found by the name BITRIX_HOUSES_PIPELINE_NAME=«{options.pipeline_name}»"
    return "found by name: the only pipeline named like houses or cleaning"


def _mapping_checks(mapping: FieldMapping, snapshot: CompanySnapshot | None) -> list[Check]:
    checks: list[Check] = []
    for role, title in ROLE_TITLES.items():
        ref = mapping.roles.get(role)
        if ref is not None:
            origin = (
                f"configured ({_ROLE_ENV[role]})" if ref.origin == "configured" else "by label"
            )
            checks.append(Check("ok", role, f"{ref.code} «{ref.label}» ({origin})"))
        elif role == "brigade":
            uses_field = mapping.brigade_source == "field"
            unresolved = snapshot is not None and any(h.brigade is None for h in snapshot.houses)
            status: Status = "warn" if uses_field or unresolved else "info"
            checks.append(
                Check(
                    status,
                    role,
                    "no enumeration field «Бригада»"
                    + ("" if status == "warn" else " (not needed: brigades come from users)"),
                )
            )
        else:
            checks.append(
                Check(
                    "warn",
                    role,
                    f"not mapped — {_ROLE_LOSS[role]}",
                    f"Поле «{title}» не найдено по названию: укажите его код в {_ROLE_ENV[role]}.",
                )
            )
    months = {(slot.year, slot.month) for slot in mapping.schedule}
    for slot in mapping.schedule:
        pair = f"{slot.date_field.code} «{slot.date_field.label}»"
        if slot.type_field is not None:
            pair += f" + {slot.type_field.code} «{slot.type_field.label}»"
        else:
            pair += " + no type field"
        title = f"schedule {slot.year}-{slot.month:02d} #{slot.index}"
        checks.append(Check("ok" if slot.type_field else "warn", title, pair))
    if snapshot is not None:
        today = snapshot.fetched_at.astimezone(snapshot.tz).date()
        if (today.year, today.month) not in months:
            checks.append(
                Check(
                    "warn",
                    "schedule",
                    f"no «Дата уборки N (месяц)» fields for {today:%Y-%m} (this month)",
                    "Добавьте поля графика уборки на этот месяц (дата + тип по полумесяцам).",
                )
            )
    elif not months:
        checks.append(Check("warn", "schedule", "no schedule fields found"))
    checks.extend(Check("warn", "note", note) for note in mapping.notes)
    return checks


async def _discover(
    client: BitrixClient, options: MappingOptions, today: date
) -> tuple[FieldMapping, dict[str, list[Any]]]:
    """The field mapping from the portal's metadata alone (crm scope, one request)."""
    fetched = await client.list_many(_metadata_requests())
    return _mapping_from(fetched, options, today), fetched


def _metadata_requests() -> dict[str, ListRequest]:
    return {
        "deal_fields": ListRequest("crm.deal.fields"),
        "userfields": ListRequest("crm.deal.userfield.list", {"filter": {"LANG": "ru"}}),
        "categories": ListRequest("crm.category.list", {"entityTypeId": 2}),
        "statuses": ListRequest("crm.status.list", {}),
    }


def _mapping_from(
    fetched: Mapping[str, list[Any]], options: MappingOptions, today: date
) -> FieldMapping:
    deal_fields = fetched["deal_fields"][0] if fetched["deal_fields"] else {}
    return build_mapping(
        deal_fields,
        fetched["userfields"],
        fetched["categories"],
        fetched["statuses"],
        today=today,
        category_id=options.category_id,
        pipeline_name=options.pipeline_name,
        overrides=options.overrides,
        brigade_source=options.brigade_source,
    )


async def describe_fields(
    client: BitrixClient,
    options: MappingOptions,
    *,
    tz: tzinfo,
    portal: str,
    clock: Clock,
) -> FieldsReport:
    """How the portal's custom deal fields map to roles.

    Raises `BitrixError` when the metadata cannot be read; a mapping failure (no pipeline, a
    configured field that does not exist) is reported in `FieldsReport.error` with the fields
    still listed, since the list is what the admin needs to fix the configuration.
    """
    fetched = await client.list_many(_metadata_requests())
    deal_fields = fetched["deal_fields"][0] if fetched["deal_fields"] else {}
    categories = sorted(
        (int(c["id"]), str(c.get("name", ""))) for c in fetched["categories"] if "id" in c
    )
    report = FieldsReport(
        portal=portal,
        options=options,
        categories=categories,
        fields=_custom_fields(deal_fields, fetched["userfields"]),
        mapping=None,
    )
    try:
        report.mapping = _mapping_from(fetched, options, clock.today())
    except BitrixMappingError as exc:
        report.error = exc
    return report


def _custom_fields(
    deal_fields: Mapping[str, Any], userfields: Sequence[Mapping[str, Any]]
) -> list[CustomField]:
    # The same two metadata sources the mapping reads, kept as the admin sees them.
    by_code = {str(u.get("FIELD_NAME", "")): u for u in userfields}
    out = []
    codes = [c for c in deal_fields if str(c).startswith("UF_")]
    codes += [c for c in by_code if c.startswith("UF_") and c not in deal_fields]
    for code in codes:
        descriptor = deal_fields.get(code)
        descriptor = descriptor if isinstance(descriptor, Mapping) else {}
        userfield = by_code.get(code, {})
        labels = [descriptor.get(k) for k in ("listLabel", "formLabel", "filterLabel")]
        labels += [
            userfield.get(k) for k in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL")
        ]
        clean = [str(v).strip() for v in labels if isinstance(v, str) and v.strip()]
        options = descriptor.get("items") or userfield.get("LIST") or []
        out.append(
            CustomField(
                code=code,
                type=str(descriptor.get("type") or userfield.get("USER_TYPE_ID") or ""),
                multiple=bool(descriptor.get("isMultiple")) or userfield.get("MULTIPLE") == "Y",
                labels=tuple(dict.fromkeys(v for v in clean if v != code)),
                options=len(options) if isinstance(options, list) else 0,
            )
        )
    return sorted(out, key=lambda f: f.code)


# ------------------------------------------------------------------------------- rendering
def render_checks(report: CheckReport) -> str:
    """The checklist as text (English lines, Russian hints after ``→``)."""
    lines = ["AudioBot — Bitrix24 integration check", f"Portal: {report.portal}"]
    width = max((len(c.title) for c in report.checks), default=10)
    for title, checks in report.sections:
        lines.append("")
        lines.append(title)
        for check in checks:
            text = f"  {_MARKS[check.status]} {check.title.ljust(width)}"
            if check.detail:
                text += f"  {check.detail}"
            lines.append(text.rstrip())
            if check.hint and check.status in ("fail", "warn"):
                lines.append(f"      → {check.hint}")
    lines.append("")
    failures = report.failures
    if not failures:
        warnings = sum(1 for c in report.checks if c.status == "warn")
        extra = f" ({warnings} warnings)" if warnings else ""
        lines.append(f"Result: PASSED — every required check passed{extra}.")
    else:
        names = ", ".join(dict.fromkeys(c.title for c in failures))
        lines.append(f"Result: FAILED — {names}.")
    return "\n".join(lines)


def render_fields(report: FieldsReport) -> str:
    """The mapping and the custom-field table as text."""
    options = report.options
    lines = ["AudioBot — CRM field mapping", f"Portal: {report.portal}", ""]
    mapping = report.mapping
    pipelines = ", ".join(f"{i} «{n}»" for i, n in report.categories) or "none"
    lines.append(f"Pipelines on the portal: {pipelines}")
    if report.error is not None:
        lines.append(f"✗ mapping failed: {report.error}")
        lines.append(f"    → {report.error.admin_hint}")
    if mapping is not None:
        pipeline = mapping.pipeline
        lines.append(
            f"Houses pipeline: {pipeline.id} «{pipeline.name}» — "
            f"{_pipeline_origin(pipeline.origin, options)}"
        )
        lines.append(f"  lost stages (not houses): {', '.join(sorted(pipeline.lost_stages))}")
        lines.append("")
        lines.append("Roles:")
        code_width = max((len(ref.code) for ref in mapping.roles.values()), default=1)
        for role, title in ROLE_TITLES.items():
            ref = mapping.roles.get(role)
            if ref is None:
                hint = f"not mapped (set {_ROLE_ENV[role]} to choose)"
                lines.append(f"  {role:<11} {'—':<{code_width}}  {hint}")
                continue
            origin = (
                f"configured ({_ROLE_ENV[role]})"
                if ref.origin == "configured"
                else "discovered by label"
            )
            lines.append(
                f"  {role:<11} {ref.code:<{code_width}}  «{ref.label}» — {title}; {origin}"
            )
        source = _SOURCE_NAMES.get(mapping.brigade_source, mapping.brigade_source)
        lines.append(f"Brigade source (BITRIX_BRIGADE_SOURCE): {source}")
        lines.append("")
        lines.append("Schedule pairs (date + cleaning type, by month; discovered by label):")
        if not mapping.schedule:
            lines.append("  none found")
        for slot in mapping.schedule:
            type_part = (
                f"{slot.type_field.code} «{slot.type_field.label}»"
                if slot.type_field
                else "(no type field)"
            )
            lines.append(
                f"  {slot.year}-{slot.month:02d} #{slot.index}  "
                f"{slot.date_field.code} «{slot.date_field.label}» + {type_part}"
            )
        lines.extend(f"  ! {note}" for note in mapping.notes)
    lines.append("")
    lines.append(f"Custom deal fields ({len(report.fields)}):")
    rows = [("code", "type", "label", "role")]
    for fld in report.fields:
        kind = fld.type + ("[]" if fld.multiple else "")
        label = fld.label + (f" [{fld.options} options]" if fld.options else "")
        if len(fld.labels) > 1:
            label += " (also: " + " / ".join(fld.labels[1:3]) + ")"
        rows.append((fld.code, kind, label, report.role_of(fld.code) or "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines.extend(
        "  " + "  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3] for row in rows
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------- commands
def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `check-bitrix` and `fields`."""
    check = subparsers.add_parser(
        "check-bitrix",
        help="check the Bitrix24 integration: reachability, credentials, scopes, data, mapping",
        description=(
            "A readable checklist of the Bitrix24 integration. Exit code 0 only when every "
            "required check passes; 2 when no webhook is configured (and no --demo), or the "
            "webhook URL is malformed."
        ),
    )
    _add_target(check, none="refuses with exit code 2")
    check.set_defaults(handler=_cmd_check)
    fields = subparsers.add_parser(
        "fields",
        help="show how CRM fields were mapped (discovered by label, or configured)",
    )
    _add_target(fields, none="the demo portal, said on stdout")
    fields.set_defaults(handler=_cmd_fields)


def _add_target(parser: argparse.ArgumentParser, *, none: str) -> None:
    parser.add_argument(
        "webhook_url",
        nargs="?",
        metavar="WEBHOOK_URL",
        help=f"incoming webhook URL (overrides BITRIX_WEBHOOK_URL; neither: {none})",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use the embedded demo portal with the demo company, whatever is configured",
    )


def _cmd_check(args: argparse.Namespace) -> int:
    return _run(args, "check")


def _cmd_fields(args: argparse.Namespace) -> int:
    return _run(args, "fields")


def _run(args: argparse.Namespace, what: str, out: TextIO | None = None) -> int:
    # Imported here, not at the top: `bot.cli` imports this module for every command, and
    # the embedded portal pulls in the demo generator (Faker), which `--help` should not pay.
    from bot.config import load_settings  # noqa: PLC0415
    from bot.logs import configure_logging  # noqa: PLC0415
    from bot.runtime import mapping_options, start_embedded_portal  # noqa: PLC0415

    stream = out or sys.stdout
    if args.demo and args.webhook_url is not None:
        stream.write("✗ give either WEBHOOK_URL or --demo, not both\n")
        return 2
    settings = load_settings()
    clock = settings.clock()
    url: str | None = args.webhook_url
    if url is None and settings.bitrix_webhook_url is not None and not args.demo:
        url = settings.bitrix_webhook_url.get_secret_value()
    if url is None and not args.demo and what == "check":
        stream.write(NO_WEBHOOK)
        return 2
    level = "INFO" if getattr(args, "verbose", False) else "WARNING"
    configure_logging(level, [*settings.secrets(), *([url] if url else [])])
    portal_thread = None
    if url is None:
        # --demo says what it is doing; only `fields` without a webhook needs the notice.
        notice = None if args.demo else sys.stderr
        portal_thread = start_embedded_portal(settings, clock=clock, notice=notice)
        url = portal_thread.webhook_url
        if not args.demo:
            stream.write(FIELDS_ON_DEMO)
    try:
        try:
            client = BitrixClient(
                url,
                rate=settings.bitrix_rate,
                burst=settings.bitrix_burst,
                timeout=settings.bitrix_timeout,
                max_retries=CHECK_RETRIES,
                backoff_base=CHECK_BACKOFF,
            )
        except BitrixConfigError as exc:
            stream.write(f"✗ webhook URL: {exc.description}\n    → {exc.admin_hint}\n")
            return 2
        if portal_thread is not None:
            where = url.split("/rest/", 1)[0]  # loopback host:port, no secret
            portal = f"embedded demo portal ({where}), webhook of user {client.user_id}"
        else:
            portal = f"{client.host}, webhook of user {client.user_id}"
        options = mapping_options(settings)
        return asyncio.run(
            _run_async(what, client, options=options, clock=clock, portal=portal, out=stream)
        )
    finally:
        if portal_thread is not None:
            portal_thread.stop()


async def _run_async(
    what: str,
    client: BitrixClient,
    *,
    options: MappingOptions,
    clock: Clock,
    portal: str,
    out: TextIO,
) -> int:
    tz = clock.tz
    async with client:
        if what == "check":
            report = await run_checks(client, options, tz=tz, portal=portal, clock=clock)
            out.write(render_checks(report) + "\n")
            return 0 if report.passed else 1
        try:
            fields = await describe_fields(client, options, tz=tz, portal=portal, clock=clock)
        except BitrixError as exc:
            out.write(
                f"AudioBot — CRM field mapping\nPortal: {portal}\n\n"
                f"✗ cannot read the deal fields: {exc}\n    → {exc.admin_hint}\n"
            )
            return 1
        out.write(render_fields(fields) + "\n")
        return 1 if fields.error is not None else 0
