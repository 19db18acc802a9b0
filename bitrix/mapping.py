"""Field mapping: which CRM fields and pipeline hold houses, counts, brigades and schedules.

Nothing is hard-coded: custom fields are recognised by their *labels* (what the portal's admins
typed: "Количество квартир", "Дата уборки 1 (ноябрь)"), read from `crm.deal.fields`
(``listLabel``/``formLabel``/``filterLabel``) and `crm.deal.userfield.list` with ``LANG``;
configuration can override any role. The houses pipeline is configured by id, or found by name.
The real portal moved its pipeline (2 → 34) and added schedule fields month by month, which is
why all of this is discovered at load time rather than written down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bitrix.errors import BitrixMappingError
from bitrix.models import CleaningKind
from bitrix.values import as_int

ROLE_TITLES = {
    "address": "Адрес",
    "apartments": "Квартиры",
    "entrances": "Подъезды",
    "floors": "Этажи",
    "brigade": "Бригада",
}
#: Optional facts about a house the crew needs; found by label when the portal has them.
EXTRA_ROLE_TITLES = {
    "house_type": "Тип дома",
    "lifts": "Лифты",
    "intercom": "Код домофона",
    "note": "Комментарий для бригады",
}
COUNT_ROLES = ("apartments", "entrances", "floors")

MONTHS_NOMINATIVE = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
# Stems that match every case form of a month name ("ноябрь", "ноября", "ноябре").
_MONTH_STEMS = (
    "январ",
    "феврал",
    "март",
    "апрел",
    "ма[йяе]",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
)
_MONTH_RE = re.compile(r"\b(" + "|".join(f"(?:{s})" for s in _MONTH_STEMS) + r")[а-я]*\b")
_HOUSE_PIPELINE_WORDS = ("уборк", "подъезд", "обслуживан", "дом")
_COUNT_TYPES = {"integer", "double", "string", "money"}
_DATE_TYPES = {"date", "datetime"}


def _fold(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _month_of(label: str) -> int | None:
    match = _MONTH_RE.search(_fold(label))
    if not match:
        return None
    word = match.group(0)
    for index, stem in enumerate(_MONTH_STEMS):
        if re.fullmatch(stem + r"[а-я]*", word):
            return index + 1
    return None


def _index_of(label: str) -> int:
    """The pair number N in "Дата уборки N (месяц)"; 1 when the label has none."""
    without_month = _MONTH_RE.sub(" ", _fold(label))
    match = re.search(r"\b(\d{1,2})\b", without_month)
    return int(match.group(1)) if match else 1


def nearest_year(month: int, today: date) -> int:
    """The year of the month nearest to today: labels name a month, never a year."""
    candidates = (today.year - 1, today.year, today.year + 1)
    return min(candidates, key=lambda y: abs((y - today.year) * 12 + month - today.month))


def cleaning_kind(label: str) -> CleaningKind:
    """Classify a cleaning-type option by its text."""
    text = _fold(label)
    if "подмет" in text:
        return CleaningKind.SWEEP
    if re.search(r"\b(1|перв\w*)[\s-]*(?:го\s+)?этаж", text):
        return CleaningKind.WET_FIRST_FLOOR
    if "влажн" in text or "мыть" in text or "мойк" in text:
        return CleaningKind.WET_ALL
    return CleaningKind.OTHER


@dataclass(frozen=True, slots=True)
class FieldRef:
    """One mapped field: its code, the label that identified it, and how it was found."""

    code: str
    label: str
    origin: str  # "label" or "configured"


@dataclass(frozen=True, slots=True)
class ScheduleSlot:
    """A "Дата уборки N (месяц)" + "Тип уборки N (месяц)" pair for one month."""

    year: int
    month: int
    index: int
    date_field: FieldRef
    type_field: FieldRef | None


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The houses pipeline (deal category) and its stages that mean "contract ended"."""

    id: int
    name: str
    origin: str  # "configured id", "configured name" or "found by name"
    lost_stages: frozenset[str]


@dataclass(frozen=True)
class FieldMapping:
    """Everything the loader needs to turn deals into houses."""

    pipeline: Pipeline
    roles: dict[str, FieldRef]
    schedule: tuple[ScheduleSlot, ...]
    enum_labels: dict[str, dict[str, str]]
    field_types: dict[str, str]
    brigade_source: str
    notes: tuple[str, ...] = field(default=())

    @property
    def unmapped(self) -> tuple[str, ...]:
        """Roles no field was found for."""
        return tuple(role for role in ROLE_TITLES if role not in self.roles)

    @property
    def deal_select(self) -> list[str]:
        """The explicit `select` for `crm.deal.list`: standard fields plus mapped UFs only."""
        codes = ["ID", "TITLE", "STAGE_ID", "CATEGORY_ID", "COMPANY_ID", "ASSIGNED_BY_ID"]
        codes += [ref.code for ref in self.roles.values()]
        for slot in self.schedule:
            codes.append(slot.date_field.code)
            if slot.type_field:
                codes.append(slot.type_field.code)
        return list(dict.fromkeys(codes))

    def option_label(self, code: str, option_id: Any) -> str | None:
        """The text of an enumeration option (values arrive as option IDs, not labels)."""
        return self.enum_labels.get(code, {}).get(str(option_id))


@dataclass(frozen=True, slots=True)
class _Field:
    code: str
    type: str
    multiple: bool
    labels: tuple[str, ...]
    options: dict[str, str]

    @property
    def label(self) -> str:
        return self.labels[0] if self.labels else self.code

    def has(self, pattern: str) -> bool:
        return any(re.search(pattern, _fold(label)) for label in self.labels)


def _collect_fields(
    deal_fields: Mapping[str, Any], userfields: Iterable[Mapping[str, Any]]
) -> dict[str, _Field]:
    """Merge both metadata sources into one view per custom field."""
    raw: dict[str, dict[str, Any]] = {}
    for code, descriptor in deal_fields.items():
        if not isinstance(descriptor, Mapping) or not str(code).startswith("UF_"):
            continue
        entry = raw.setdefault(str(code), {"labels": [], "options": {}})
        entry["type"] = str(descriptor.get("type") or "")
        entry["multiple"] = bool(descriptor.get("isMultiple"))
        for key in ("listLabel", "formLabel", "filterLabel"):
            value = descriptor.get(key)
            if isinstance(value, str) and value.strip() and value != code:
                entry["labels"].append(value.strip())
        for item in descriptor.get("items") or []:
            if isinstance(item, Mapping) and "ID" in item:
                entry["options"][str(item["ID"])] = str(item.get("VALUE", ""))
    for item in userfields:
        code = str(item.get("FIELD_NAME", ""))
        if not code.startswith("UF_"):
            continue
        entry = raw.setdefault(code, {"labels": [], "options": {}})
        entry.setdefault("type", str(item.get("USER_TYPE_ID") or ""))
        entry.setdefault("multiple", item.get("MULTIPLE") == "Y")
        for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL"):
            value = item.get(key)
            if isinstance(value, str) and value.strip():
                entry["labels"].append(value.strip())
        for option in item.get("LIST") or []:
            if isinstance(option, Mapping) and "ID" in option:
                entry["options"].setdefault(str(option["ID"]), str(option.get("VALUE", "")))
    return {
        code: _Field(
            code=code,
            type=entry.get("type", ""),
            multiple=bool(entry.get("multiple")),
            labels=tuple(dict.fromkeys(entry["labels"])),
            options=entry["options"],
        )
        for code, entry in raw.items()
    }


def _find_pipeline(
    categories: Iterable[Mapping[str, Any]],
    statuses: Iterable[Mapping[str, Any]],
    *,
    category_id: int | None,
    pipeline_name: str | None,
) -> Pipeline:
    # A category whose id is not a whole number ('abc' from a broken portal or proxy) cannot be
    # the houses pipeline: skip it rather than fail the whole load with a ValueError.
    known = {
        number: str(c.get("name", ""))
        for c in categories
        if isinstance(c, Mapping) and (number := as_int(c.get("id"))) is not None
    }
    if category_id is not None:
        if category_id not in known:
            raise BitrixMappingError(
                f"configured houses category {category_id} does not exist",
                admin_hint=(
                    f"Воронки с id {category_id} нет на портале. Доступные: "
                    + ", ".join(f"{i} «{n}»" for i, n in sorted(known.items()))
                    + ". Исправьте BITRIX_HOUSES_CATEGORY_ID."
                ),
            )
        chosen, origin = category_id, "configured id"
    else:
        wanted = _fold(pipeline_name or "")
        by_name = [i for i, n in known.items() if wanted and _fold(n) == wanted]
        if by_name:
            chosen, origin = by_name[0], "configured name"
        else:
            guesses = [
                i for i, n in known.items() if any(w in _fold(n) for w in _HOUSE_PIPELINE_WORDS)
            ]
            if len(guesses) != 1:
                listing = ", ".join(f"{i} «{n}»" for i, n in sorted(known.items())) or "нет"
                raise BitrixMappingError(
                    "houses pipeline not found"
                    if not guesses
                    else "several pipelines look like the houses pipeline",
                    admin_hint=(
                        f"Не удалось определить воронку домов (искали «{pipeline_name}»). "
                        f"Воронки на портале: {listing}. Укажите BITRIX_HOUSES_CATEGORY_ID "
                        "или BITRIX_HOUSES_PIPELINE_NAME."
                    ),
                )
            chosen, origin = guesses[0], "found by name"
    entity = "DEAL_STAGE" if chosen == 0 else f"DEAL_STAGE_{chosen}"
    lost: set[str] = set()
    for status in statuses:
        if status.get("ENTITY_ID") != entity:
            continue
        semantics = status.get("SEMANTICS")
        extra = status.get("EXTRA")
        extra_semantics = extra.get("SEMANTICS") if isinstance(extra, Mapping) else None
        status_id = str(status.get("STATUS_ID", ""))
        if (
            semantics == "F"
            or extra_semantics in ("failure", "apology")
            or status_id.rsplit(":", 1)[-1] in ("LOSE", "APOLOGY")
        ):
            lost.add(status_id)
    if not lost:
        prefix = "" if chosen == 0 else f"C{chosen}:"
        lost = {f"{prefix}LOSE", f"{prefix}APOLOGY"}
    return Pipeline(id=chosen, name=known[chosen], origin=origin, lost_stages=frozenset(lost))


def _score_role(role: str, fld: _Field) -> int:
    """How well a field fits a role (0 = not at all). Higher wins."""
    if role == "address":
        if fld.type not in ("string", "address") or not fld.has(r"\bадрес"):
            return 0
        return 3 if fld.has(r"^адрес$") else 2 if not fld.has(r"почт|mail|эл") else 0
    if role == "brigade":
        if fld.type != "enumeration" or not fld.has(r"бригад"):
            return 0
        return 3 if fld.has(r"^бригада$") else 2
    if role == "house_type":
        if fld.multiple or not fld.has(r"тип дома|материал стен|тип здания"):
            return 0
        return 3 if fld.type == "enumeration" else 2
    if role == "intercom":
        return 3 if fld.type == "string" and fld.has(r"домофон") else 0
    if role == "note":
        if fld.type != "string" or not fld.has(r"коммент|примечан"):
            return 0
        return 3 if fld.has(r"бригад") else 2
    if role == "lifts":
        if fld.type not in _COUNT_TYPES or fld.multiple or not fld.has(r"лифт"):
            return 0
        return 3
    if fld.type not in _COUNT_TYPES or fld.multiple or fld.has(r"уборк|график|тип|вид"):
        return 0
    patterns = {
        "apartments": r"квартир",
        "entrances": r"подъезд",
        "floors": r"этаж",
    }
    if not fld.has(patterns[role]):
        return 0
    return 3 if fld.has(r"^(кол(ичество|-во)?\.?\s*)?" + patterns[role]) else 2


def build_mapping(
    deal_fields: Mapping[str, Any],
    userfields: Iterable[Mapping[str, Any]],
    categories: Iterable[Mapping[str, Any]],
    statuses: Iterable[Mapping[str, Any]],
    *,
    today: date,
    category_id: int | None = None,
    pipeline_name: str | None = None,
    overrides: Mapping[str, str] | None = None,
    brigade_source: str = "auto",
) -> FieldMapping:
    """Discover the mapping from the portal's metadata, applying configured overrides.

    Raises :class:`~bitrix.errors.BitrixMappingError` when the houses pipeline cannot be
    determined or an override names a field the portal does not have.
    """
    fields = _collect_fields(deal_fields, userfields)
    pipeline = _find_pipeline(
        categories, statuses, category_id=category_id, pipeline_name=pipeline_name
    )
    notes: list[str] = []
    roles: dict[str, FieldRef] = {}
    for role, code in (overrides or {}).items():
        if role not in ROLE_TITLES and role not in EXTRA_ROLE_TITLES:
            continue
        if code not in fields and code not in deal_fields:
            raise BitrixMappingError(
                f"configured field {code} for {role} does not exist",
                admin_hint=(
                    f"Поля {code} нет среди полей сделок "
                    f"(роль «{ROLE_TITLES.get(role) or EXTRA_ROLE_TITLES[role]}»). "
                    f"Проверьте BITRIX_FIELD_{role.upper()} или уберите его."
                ),
            )
        label = fields[code].label if code in fields else code
        roles[role] = FieldRef(code=code, label=label, origin="configured")
    taken = {ref.code for ref in roles.values()}
    for role in (*ROLE_TITLES, *EXTRA_ROLE_TITLES):
        if role in roles:
            continue
        scored = sorted(
            ((_score_role(role, f), f.code, f) for f in fields.values() if f.code not in taken),
            key=lambda item: (-item[0], item[1]),
        )
        candidates = [(s, f) for s, _, f in scored if s > 0]
        if not candidates:
            continue
        best_score, best = candidates[0]
        if len(candidates) > 1 and candidates[1][0] == best_score:
            notes.append(
                f"{role}: several fields fit ({', '.join(f.code for _, f in candidates[:3])}); "
                f"using {best.code} «{best.label}»"
            )
        roles[role] = FieldRef(code=best.code, label=best.label, origin="label")
        taken.add(best.code)

    dates: dict[tuple[int, int], _Field] = {}
    types: dict[tuple[int, int], _Field] = {}
    for fld in fields.values():
        if fld.code in taken:
            continue
        month = next((m for m in map(_month_of, fld.labels) if m), None)
        if month is None:
            continue
        key = (month, _index_of(next(lbl for lbl in fld.labels if _month_of(lbl))))
        if fld.type in _DATE_TYPES and fld.has(r"дат|график|уборк"):
            dates.setdefault(key, fld)
        elif fld.type == "enumeration" and fld.has(r"тип|вид|уборк"):
            types.setdefault(key, fld)
    schedule = []
    for (month, index), fld in sorted(dates.items()):
        type_field = types.get((month, index))
        if type_field is None:
            notes.append(f"schedule: no cleaning-type field pairs with {fld.code} «{fld.label}»")
        schedule.append(
            ScheduleSlot(
                year=nearest_year(month, today),
                month=month,
                index=index,
                date_field=FieldRef(fld.code, fld.label, "label"),
                type_field=FieldRef(type_field.code, type_field.label, "label")
                if type_field
                else None,
            )
        )
    schedule.sort(key=lambda s: (s.year, s.month, s.index))

    source = brigade_source
    if source == "field" and "brigade" not in roles:
        raise BitrixMappingError(
            "brigade source is 'field' but no brigade field was found",
            admin_hint=(
                "BITRIX_BRIGADE_SOURCE=field, но поле «Бригада» (список) не найдено. "
                "Укажите код поля в BITRIX_FIELD_BRIGADE."
            ),
        )
    return FieldMapping(
        pipeline=pipeline,
        roles=roles,
        schedule=tuple(schedule),
        enum_labels={code: dict(f.options) for code, f in fields.items() if f.options},
        field_types={code: f.type for code, f in fields.items()},
        brigade_source=source,
        notes=tuple(notes),
    )
