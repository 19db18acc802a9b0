"""The deal user fields of a demo portal, as ``crm.deal.userfield.list`` returns them.

Every enumeration field has its own option ids, as on a real portal: «Тип уборки 1 (ноябрь)»
and «Тип уборки 2 (ноябрь)» list the same three labels under different ids, so a value can
only be read through its own field's ``LIST``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from bitrix.demo.dates import YearMonth
from bitrix.demo.layout import (
    EXTRA_ROLES,
    ROLE_ADDRESS,
    ROLE_APARTMENTS,
    ROLE_BRIGADE,
    ROLE_ENTRANCES,
    ROLE_FLOORS,
    BrigadeSource,
    DemoLayout,
    schedule_role,
)
from bitrix.demo.schedule import CleaningType
from bitrix.portal.store import Record

HOUSE_TYPES = ("Панельный", "Кирпичный", "Монолитный", "Блочный")
_EXTRA_TYPES = {
    "comment": "string",
    "intercom": "string",
    "house_type": "enumeration",
    "contract_price": "money",
    "elevators": "string",
    "last_clean": "date",
}
_STRING_SETTINGS: Record = {
    "SIZE": 20,
    "ROWS": 1,
    "REGEXP": "",
    "MIN_LENGTH": 0,
    "MAX_LENGTH": 0,
    "DEFAULT_VALUE": "",
}
_ENUM_SETTINGS: Record = {
    "DISPLAY": "LIST",
    "LIST_HEIGHT": 1,
    "CAPTION_NO_VALUE": "",
    "SHOW_NO_VALUE": "Y",
}
_DATE_SETTINGS: Record = {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}}
_MONEY_SETTINGS: Record = {"DEFAULT_VALUE": ""}
_SETTINGS = {
    "string": _STRING_SETTINGS,
    "enumeration": _ENUM_SETTINGS,
    "date": _DATE_SETTINGS,
    "money": _MONEY_SETTINGS,
}


@dataclass
class FieldSet:
    """The portal's deal user fields and how to write values into them."""

    userfields: list[Record] = field(default_factory=list)
    #: Role (`layout` roles, `schedule_role` keys) → ``FIELD_NAME``.
    codes: dict[str, str] = field(default_factory=dict)
    #: ``FIELD_NAME`` of a schedule type field → cleaning type → option id.
    type_options: dict[str, dict[CleaningType, str]] = field(default_factory=dict)
    #: Brigade number → option id of the «Бригада» enumeration (enum layout only).
    brigade_options: dict[int, str] = field(default_factory=dict)
    #: Option ids of «Тип дома», in `HOUSE_TYPES` order.
    house_type_options: list[str] = field(default_factory=list)


def _month_index(month: YearMonth) -> int:
    return (month.year - 2020) * 12 + month.month - 1


def _option_xml_id(layout: DemoLayout, option_id: str) -> str:
    # Bitrix fills an option's XML_ID with an md5 hex string when the admin leaves it empty.
    return hashlib.md5(f"{layout.code_salt}:{option_id}".encode()).hexdigest()


def _labels(text: str) -> dict[str, str]:
    # The CRM field editor stores the typed label for every language of the portal.
    return {"ru": text, "en": text}


def _userfield(
    layout: DemoLayout,
    uf_id: int,
    code: str,
    user_type: str,
    label: str,
    *,
    multiple: bool = False,
    sort: int = 100,
    options: Sequence[tuple[str, str]] = (),
) -> Record:
    record: Record = {
        "ID": str(uf_id),
        "ENTITY_ID": "CRM_DEAL",
        "FIELD_NAME": code,
        "USER_TYPE_ID": user_type,
        "XML_ID": None,
        "SORT": str(sort),
        "MULTIPLE": "Y" if multiple else "N",
        "MANDATORY": "N",
        "SHOW_FILTER": "E",
        "SHOW_IN_LIST": "Y",
        "EDIT_IN_LIST": "Y",
        "IS_SEARCHABLE": "N",
        "SETTINGS": dict(_SETTINGS[user_type]),
        "EDIT_FORM_LABEL": _labels(label),
        "LIST_COLUMN_LABEL": _labels(label),
        "LIST_FILTER_LABEL": _labels(label),
    }
    if user_type == "enumeration":
        record["LIST"] = [
            {
                "ID": option_id,
                "SORT": str(10 * (index + 1)),
                "VALUE": value,
                "DEF": "N",
                "XML_ID": _option_xml_id(layout, option_id),
            }
            for index, (option_id, value) in enumerate(options)
        ]
    return record


def build_fields(layout: DemoLayout, months: Sequence[YearMonth]) -> FieldSet:
    """Every deal user field of the portal: counts, address, extras, schedule pairs, brigade."""
    fields = FieldSet()
    base = layout.id_base

    def add(
        role: str,
        uf_id: int,
        user_type: str,
        label: str,
        *,
        multiple: bool = False,
        sort: int = 100,
        options: Sequence[tuple[str, str]] = (),
    ) -> None:
        code = layout.field_code(role)
        if code in fields.codes.values():
            raise RuntimeError(f"field code collision: {code}")
        fields.codes[role] = code
        fields.userfields.append(
            _userfield(
                layout,
                uf_id,
                code,
                user_type,
                label,
                multiple=multiple,
                sort=sort,
                options=options,
            )
        )

    add(ROLE_ADDRESS, base + 118, "string", layout.address_label, sort=100)
    add(ROLE_APARTMENTS, base + 121, "string", layout.apartments_label, sort=110)
    add(ROLE_ENTRANCES, base + 122, "string", layout.entrances_label, sort=120)
    add(ROLE_FLOORS, base + 125, "string", layout.floors_label, sort=130)
    for index, (role, label) in enumerate(zip(EXTRA_ROLES, layout.extra_labels, strict=True)):
        user_type = _EXTRA_TYPES[role]
        options: list[tuple[str, str]] = []
        if role == "house_type":
            options = [(str(base + 101 + i), value) for i, value in enumerate(HOUSE_TYPES)]
            fields.house_type_options = [option_id for option_id, _ in options]
        add(role, base + 131 + 3 * index, user_type, label, sort=140 + 10 * index, options=options)
    if layout.brigade_source is BrigadeSource.ENUM_FIELD:
        options = [
            (str(base + 151 + n), layout.brigade_option_label.format(n=n)) for n in range(1, 7)
        ]
        fields.brigade_options = {n: str(base + 151 + n) for n in range(1, 7)}
        add(ROLE_BRIGADE, base + 160, "enumeration", layout.brigade_field_label, sort=95,
            options=options)  # fmt: skip

    kinds = list(CleaningType)
    for month in months:
        month_index = _month_index(month)
        for period in (1, 2):
            uf_id = base + 400 + 4 * month_index + 2 * (period - 1)
            sort = 300 + 2 * month_index + period
            date_role = schedule_role("date", month, period)
            add(date_role, uf_id, "date", layout.schedule_label("date", month, period),
                multiple=True, sort=sort)  # fmt: skip
            first_option = base + 1500 + 8 * month_index + 4 * (period - 1)
            options = [(str(first_option + i), kind.value) for i, kind in enumerate(kinds)]
            type_role = schedule_role("type", month, period)
            add(type_role, uf_id + 1, "enumeration", layout.schedule_label("type", month, period),
                sort=sort, options=options)  # fmt: skip
            fields.type_options[fields.codes[type_role]] = {
                kind: option_id for (option_id, _), kind in zip(options, kinds, strict=True)
            }
    fields.userfields.sort(key=lambda record: int(record["ID"]))
    return fields
