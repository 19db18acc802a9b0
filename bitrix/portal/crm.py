"""Classic CRM methods: deals, deal fields and user fields, funnels, stages, companies.

Shapes as a real portal answers them. Classic ``crm.*`` methods answer their own errors
with HTTP 400 and an empty ``error`` code ("Not found", "Parameter 'filter' must be array.").
Lists page like ORM lists (exact ``start`` offset) and always carry ``total``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from bitrix.portal.calls import CallContext, MethodOutput, Params
from bitrix.portal.errors import MethodError, classic_crm_error
from bitrix.portal.query import (
    PAGE_SIZE,
    Condition,
    Record,
    as_number,
    as_php_array,
    is_empty,
    order_records,
    orm_page,
    param,
    parse_filter,
    parse_order,
    php_intval,
    php_string,
    record_matches,
)

#: Fields typed crm_status/crm_company/...: LIKE (``%``) does not work on them (reference
#: §7.1); Bitrix compares them exactly.
EXACT_FIELDS = frozenset(
    {
        "STAGE_ID",
        "TYPE_ID",
        "SOURCE_ID",
        "CURRENCY_ID",
        "COMPANY_ID",
        "CONTACT_ID",
        "LEAD_ID",
        "CATEGORY_ID",
        "COMPANY_TYPE",
        "INDUSTRY",
        "EMPLOYEES",
    }
)
#: Multiple fields that ``select: ["*"]`` leaves out; they must be selected by name.
MULTI_FIELDS = frozenset({"PHONE", "EMAIL", "WEB", "IM", "LINK", "CONTACT_IDS"})

#: Label keys of `crm.deal.userfield.list` items, shown only with ``filter[LANG]``.
LABEL_KEYS = (
    "EDIT_FORM_LABEL",
    "LIST_COLUMN_LABEL",
    "LIST_FILTER_LABEL",
    "ERROR_MESSAGE",
    "HELP_MESSAGE",
)

# Standard deal fields of `crm.deal.fields`: code, type, flags (R required, O read-only,
# I immutable, M multiple, D deprecated), statusType, Russian title, English title.
_DEAL_FIELDS: tuple[tuple[str, str, str, str | None, str, str], ...] = (
    ("ID", "integer", "O", None, "ID", "ID"),
    ("TITLE", "string", "", None, "Название", "Name"),
    ("TYPE_ID", "crm_status", "", "DEAL_TYPE", "Тип", "Type"),
    ("CATEGORY_ID", "crm_category", "I", None, "Воронка", "Pipeline"),
    ("STAGE_ID", "crm_status", "", "DEAL_STAGE", "Стадия сделки", "Deal stage"),
    ("STAGE_SEMANTIC_ID", "string", "O", None, "Группа стадий", "Stage group"),
    ("IS_NEW", "char", "O", None, "Новая сделка", "New deal"),
    ("IS_RECURRING", "char", "", None, "Регулярная сделка", "Recurring deal"),
    ("IS_RETURN_CUSTOMER", "char", "O", None, "Повторная сделка", "Repeat deal"),
    ("IS_REPEATED_APPROACH", "char", "O", None, "Повторное обращение", "Repeat inquiry"),
    ("PROBABILITY", "integer", "", None, "Вероятность", "Probability"),
    ("CURRENCY_ID", "crm_currency", "", None, "Валюта", "Currency"),
    ("OPPORTUNITY", "double", "", None, "Сумма", "Amount"),
    ("IS_MANUAL_OPPORTUNITY", "char", "", None, "Сумма заполняется вручную", "Manual amount"),
    ("TAX_VALUE", "double", "", None, "Ставка налога", "Tax rate"),
    ("COMPANY_ID", "crm_company", "", None, "Компания", "Company"),
    ("CONTACT_ID", "crm_contact", "D", None, "Контакт", "Contact"),
    ("CONTACT_IDS", "crm_contact", "M", None, "Контакты", "Contacts"),
    ("QUOTE_ID", "crm_quote", "O", None, "Предложение", "Quote"),
    ("BEGINDATE", "date", "", None, "Дата начала", "Start date"),
    ("CLOSEDATE", "date", "", None, "Дата завершения", "End date"),
    ("OPENED", "char", "", None, "Доступна для всех", "Available to everyone"),
    ("CLOSED", "char", "", None, "Закрыта", "Closed"),
    ("COMMENTS", "string", "", None, "Комментарий", "Comment"),
    ("ASSIGNED_BY_ID", "user", "", None, "Ответственный", "Responsible person"),
    ("CREATED_BY_ID", "user", "O", None, "Кем создана", "Created by"),
    ("MODIFY_BY_ID", "user", "O", None, "Кем изменена", "Modified by"),
    ("DATE_CREATE", "datetime", "O", None, "Дата создания", "Created on"),
    ("DATE_MODIFY", "datetime", "O", None, "Дата изменения", "Modified on"),
    ("SOURCE_ID", "crm_status", "", "SOURCE", "Источник", "Source"),
    ("SOURCE_DESCRIPTION", "string", "", None, "Дополнительно об источнике", "Source info"),
    ("LEAD_ID", "crm_lead", "O", None, "Лид", "Lead"),
    ("ADDITIONAL_INFO", "string", "", None, "Дополнительная информация", "Additional info"),
    ("LOCATION_ID", "location", "", None, "Местоположение", "Location"),
    ("ORIGINATOR_ID", "string", "", None, "Внешний источник", "External source"),
    ("ORIGIN_ID", "string", "", None, "Идентификатор во внешнем источнике", "External ID"),
    ("MOVED_BY_ID", "user", "O", None, "Кем изменена стадия", "Stage changed by"),
    ("MOVED_TIME", "datetime", "O", None, "Дата изменения стадии", "Stage changed on"),
    ("LAST_ACTIVITY_TIME", "datetime", "O", None, "Последняя активность", "Last activity"),
    ("LAST_ACTIVITY_BY", "user", "O", None, "Автор последней активности", "Last activity by"),
    ("UTM_SOURCE", "string", "", None, "Рекламная система", "Ad system"),
    ("UTM_MEDIUM", "string", "", None, "Тип трафика", "Traffic type"),
    ("UTM_CAMPAIGN", "string", "", None, "Обозначение рекламной кампании", "Ad campaign UTM"),
    ("UTM_CONTENT", "string", "", None, "Содержание кампании", "Campaign contents"),
    ("UTM_TERM", "string", "", None, "Условие поиска кампании", "Campaign search term"),
)


# --------------------------------------------------------------------------- helpers


def _array_param(params: Params, name: str) -> dict[str, Any]:
    """A PHP-array parameter of a classic crm method; present but not an array is a 400."""
    raw = param(params, name)
    if raw is None:
        return {}
    mapping = as_php_array(raw)
    if mapping is None:
        raise classic_crm_error(f"Parameter '{name}' must be array.")
    return mapping


def _select_list(params: Params) -> list[str]:
    raw = param(params, "select")
    mapping = as_php_array(raw)
    if not mapping:
        return []
    return [php_string(v) for v in mapping.values()]


def _uf_names(records: Iterable[Record], declared: Iterable[str] = ()) -> list[str]:
    names = dict.fromkeys(declared)
    present: set[str] = set().union(*(r.keys() for r in records))
    names.update(dict.fromkeys(sorted(k for k in present if k.startswith("UF_"))))
    return list(names)


def select_fields(
    record: Mapping[str, Any], select: Sequence[str], uf_names: Sequence[str]
) -> Record:
    """Apply a crm ``select``: ``*`` standard fields, ``UF_*`` user fields, names; ID always.

    No select means ``*`` + ``UF_*`` (the documented default). Declared user fields missing
    from a record come back as ``null``.
    """
    wanted = list(select) or ["*", "UF_*"]
    all_standard, all_uf = "*" in wanted, "UF_*" in wanted
    explicit = set(wanted)
    out: Record = {}
    keys = list(record.keys()) + [n for n in uf_names if n not in record]
    for key in keys:
        is_uf = key.startswith("UF_")
        if (
            key == "ID"
            or key in explicit
            or (all_standard and not is_uf and key not in MULTI_FIELDS)
            or (all_uf and is_uf)
        ):
            out[key] = record.get(key)
    if "ID" in out:
        out = {"ID": out.pop("ID"), **out}
    return out


class _KnownFields:
    """The field names a crm list knows: declared user fields plus every record's keys.

    Computed per name on demand: a key scan over every record of a 5,000-deal store costs
    more than answering the page itself, while a present field is found in the first record.
    """

    def __init__(self, rows: Sequence[Record], declared: Sequence[str]) -> None:
        self._rows = rows
        self._declared = dict.fromkeys(declared)
        self._memo: dict[str, bool] = {}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        known = self._memo.get(name)
        if known is None:
            known = name in self._declared or any(name in r for r in self._rows)
            self._memo[name] = known
        return known

    def uf_names(self, only: Collection[str] | None) -> list[str]:
        """`_uf_names` of the rows, restricted to ``only`` (``None``: all of them)."""
        if only is None:
            return _uf_names(self._rows, self._declared)
        declared = [n for n in self._declared if n in only]
        present = sorted(
            n for n in only if n.startswith("UF_") and n not in self._declared and n in self
        )
        return declared + present


def _id_range(
    by_id: Mapping[int, Record],
    conditions: Sequence[Condition],
    order: Sequence[tuple[str, bool]],
    ctx: CallContext,
) -> list[Record] | None:
    """The matching rows of an ID-ordered list filtered by ``>ID``/``>=ID``, via an index.

    A real portal answers ``ID > x ORDER BY ID LIMIT 50`` with an index range scan; the
    linear scan-and-sort made ID-chained pages the emulator's bottleneck at 5,000 deals. Here
    the ids are sorted (near-linear: stores are filled in id order) and bisected, and only
    rows from the bound on are matched against the whole filter, so the answer is exactly the
    scan's. With ``start < 0`` (no count) the scan stops after one page. ``None`` when the
    fast path does not apply: another order, no numeric lower bound on ID, or a store whose
    keys are not the records' ``ID`` values.
    """
    if order and list(order) != [("ID", False)]:
        return None
    bound: tuple[str, float] | None = None
    for condition in conditions:
        if condition.field != "ID" or condition.op not in (">", ">="):
            continue
        value = condition.value
        first = value[0] if isinstance(value, list) and value else value
        number = None if is_empty(value) or isinstance(first, bool) else as_number(first)
        if isinstance(value, Mapping) or number is None:
            return None
        bound = (condition.op, number)
        break
    if bound is None or not all(r.get("ID") == str(k) for k, r in by_id.items()):
        return None
    ids = sorted(by_id)
    op, number = bound
    position = bisect_right(ids, number) if op == ">" else bisect_left(ids, number)
    matched: list[Record] = []
    for key in ids[position:]:
        record = by_id[key]
        if record_matches(record, conditions, ctx.tz, exact_fields=EXACT_FIELDS):
            matched.append(record)
            if ctx.start < 0 and len(matched) >= PAGE_SIZE:
                break
    return matched


def crm_list(
    ctx: CallContext,
    params: Params,
    records: Iterable[Record],
    *,
    uf_names: Sequence[str] | None = (),
    declared: Sequence[str] = (),
    by_id: Mapping[int, Record] | None = None,
    default_order: Sequence[tuple[str, bool]] = (("ID", False),),
    selectable: bool = True,
) -> MethodOutput:
    """A classic crm list: filter, order, select, then an ORM-style page with ``total``.

    ``uf_names=None`` derives the user-field names from ``declared`` and the records (as
    `_uf_names` does), only as far as the request needs them. ``by_id`` (the store's
    ``{id: record}``) enables the index path for ID-chained pages (`_id_range`).
    """
    rows = list(records)
    raw_filter = _array_param(params, "filter")
    raw_order = _array_param(params, "order")
    known = _KnownFields(rows, declared if uf_names is None else uf_names)
    conditions = parse_filter(raw_filter, fields=known)
    order = parse_order(raw_order, fields=known)
    matched: list[Record] | None = None
    if by_id is not None and list(default_order) == [("ID", False)]:
        matched = _id_range(by_id, conditions, order, ctx)
    if matched is None:
        matched = [
            r for r in rows if record_matches(r, conditions, ctx.tz, exact_fields=EXACT_FIELDS)
        ]
        # The default order first, so ties of an explicit order fall back to it.
        matched = order_records(matched, list(default_order), ctx.tz)
        if order:
            matched = order_records(matched, order, ctx.tz)
    page = orm_page(matched, ctx.start)
    select = _select_list(params) if selectable else []
    if not selectable:
        return MethodOutput([dict(r) for r in page.items], page.total, page.next)
    if uf_names is None:
        # Only the named fields matter unless the select asks for every user field.
        wanted = select or ["*", "UF_*"]
        uf_names = known.uf_names(None if "UF_*" in wanted else set(wanted))
    items = [select_fields(r, select, uf_names) for r in page.items]
    return MethodOutput(items, page.total, page.next)


def _get_by_id(records: Mapping[int, Record], params: Params) -> Record:
    raw = param(params, "id")
    entity_id = php_intval(raw)
    if entity_id <= 0:
        raise classic_crm_error("ID is not defined or invalid.")
    record = records.get(entity_id)
    if record is None:
        raise classic_crm_error("Not found")
    return record


# --------------------------------------------------------------------------- deals


def _deal_declared(ctx: CallContext) -> list[str]:
    return [php_string(f.get("FIELD_NAME")) for f in ctx.store.deal_userfields]


def _deal_uf_names(ctx: CallContext) -> list[str]:
    return _uf_names(ctx.store.deals.values(), _deal_declared(ctx))


def deal_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.deal.list`."""
    deals = ctx.store.deals
    return crm_list(
        ctx, params, deals.values(), uf_names=None, declared=_deal_declared(ctx), by_id=deals
    )


def deal_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.deal.get`: the full record incl. every declared user field."""
    record = _get_by_id(ctx.store.deals, params)
    return MethodOutput(select_fields(record, ["*", "UF_*"], _deal_uf_names(ctx)))


def _label(value: Any, language: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(language)
    return value


def _field_label(field: Mapping[str, Any], key: str, language: str) -> str:
    value = field.get(key)
    if isinstance(value, Mapping):
        text = value.get(language) or value.get("en") or next(iter(value.values()), None)
        return php_string(text) if text else php_string(field.get("FIELD_NAME"))
    return php_string(value) if value else php_string(field.get("FIELD_NAME"))


def deal_fields(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.deal.fields`: descriptors; user fields titled by code, labelled in the UI language."""
    russian = ctx.store.language == "ru"
    result: dict[str, Any] = {}
    for code, kind, flags, status_type, title_ru, title_en in _DEAL_FIELDS:
        descriptor: dict[str, Any] = {
            "type": kind,
            "isRequired": "R" in flags,
            "isReadOnly": "O" in flags,
            "isImmutable": "I" in flags,
            "isMultiple": "M" in flags,
            "isDynamic": False,
            "title": title_ru if russian else title_en,
        }
        if "D" in flags:
            descriptor["isDeprecated"] = True
        if status_type:
            descriptor["statusType"] = status_type
        result[code] = descriptor
    for field in ctx.store.deal_userfields:
        code = php_string(field.get("FIELD_NAME"))
        descriptor = {
            "type": field.get("USER_TYPE_ID"),
            "isRequired": field.get("MANDATORY") == "Y",
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": field.get("MULTIPLE") == "Y",
            "isDynamic": True,
            "title": code,
            "listLabel": _field_label(field, "LIST_COLUMN_LABEL", ctx.store.language),
            "formLabel": _field_label(field, "EDIT_FORM_LABEL", ctx.store.language),
            "filterLabel": _field_label(field, "LIST_FILTER_LABEL", ctx.store.language),
            "settings": field.get("SETTINGS") or [],
        }
        if field.get("USER_TYPE_ID") == "enumeration":
            descriptor["items"] = [
                {"ID": php_string(item.get("ID")), "VALUE": item.get("VALUE")}
                for item in field.get("LIST") or []
            ]
        result[code] = descriptor
    return MethodOutput(result)


_USERFIELD_FILTER_KEYS = frozenset(
    {
        "ID",
        "ENTITY_ID",
        "FIELD_NAME",
        "USER_TYPE_ID",
        "XML_ID",
        "SORT",
        "MULTIPLE",
        "MANDATORY",
        "SHOW_FILTER",
        "SHOW_IN_LIST",
        "EDIT_IN_LIST",
        "IS_SEARCHABLE",
    }
)


def deal_userfield_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.deal.userfield.list`: labels as strings only when ``filter[LANG]`` is given."""
    raw_filter = _array_param(params, "filter")
    language = None
    for key in list(raw_filter):
        if key.upper() == "LANG":
            language = php_string(raw_filter.pop(key))
    conditions = parse_filter(raw_filter, fields=_USERFIELD_FILTER_KEYS)
    rows = [r for r in ctx.store.deal_userfields if record_matches(r, conditions, ctx.tz)]
    ordered = order_records(rows, [("SORT", False), ("ID", False)], ctx.tz)
    order = parse_order(_array_param(params, "order"), fields=_USERFIELD_FILTER_KEYS)
    if order:
        ordered = order_records(ordered, order, ctx.tz)
    page = orm_page(ordered, ctx.start)
    items = []
    for row in page.items:
        item = {k: v for k, v in row.items() if k not in LABEL_KEYS}
        if language:
            for key in LABEL_KEYS:
                item[key] = _label(row.get(key), language)
        items.append(item)
    return MethodOutput(items, page.total, page.next)


# --------------------------------------------------------------------------- funnels, stages


def category_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.category.list`: ``result.categories`` (camelCase, ints), ``total`` top-level."""
    entity_type = php_intval(param(params, "entityTypeId"))
    if entity_type != 2:
        raise MethodError(
            "ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {entity_type} is not supported", 400
        )
    rows = [r for r in ctx.store.categories if php_intval(r.get("entityTypeId", 2)) == 2]
    known = {k for r in rows for k in r}
    conditions = parse_filter(as_php_array(param(params, "filter")) or {}, fields=known)
    rows = [r for r in rows if record_matches(r, conditions, ctx.tz)]
    ordered = order_records(rows, [("id", False)], ctx.tz)
    order = parse_order(param(params, "order"), fields=known)
    if order:
        ordered = order_records(ordered, order, ctx.tz)
    page = orm_page(ordered, ctx.start)
    return MethodOutput({"categories": [dict(r) for r in page.items]}, page.total, page.next)


def status_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.status.list`: stages and other reference lists, ``SORT`` as a string."""
    return crm_list(
        ctx,
        params,
        ctx.store.statuses,
        default_order=(("SORT", False), ("ID", False)),
        selectable=False,
    )


# --------------------------------------------------------------------------- companies


def company_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.company.list`."""
    companies = ctx.store.companies
    return crm_list(ctx, params, companies.values(), uf_names=None, by_id=companies)


def company_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.company.get`: the full record incl. multiple fields (PHONE, EMAIL)."""
    record = _get_by_id(ctx.store.companies, params)
    return MethodOutput(dict(record))
