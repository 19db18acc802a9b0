"""The emulated portal's in-memory data: raw records shaped exactly as the REST API returns them.

The store holds what a real Bitrix24 portal would hold, in the *output* shape of the REST
methods (reference `bitrix24.md` §7), so the emulator only has to filter, order, select and
page. Anything that fills a store (the small fixture dataset, the demo-company generator in
`bitrix.demo`, a test's own layout) writes these shapes:

- ``deals``: ``{int id: record}``, records as `crm.deal.get` returns them: every value a string
  (``"ID": "37"``, ``"CATEGORY_ID": "2"``, ``"COMPANY_ID": "0"``), ``None`` for empty foreign keys,
  ``UF_CRM_*`` values as the API sends them (enumeration option IDs as strings, multiple fields
  as lists, empty scalars as ``None`` or ``""``).
- ``deal_userfields``: items as `crm.deal.userfield.list` returns them, *except* that the label
  keys (``EDIT_FORM_LABEL``, ``LIST_COLUMN_LABEL``, ``LIST_FILTER_LABEL``) hold a dict per language
  (``{"ru": "Квартир", "en": "Apartments"}``); the emulator renders them as strings only when
  ``filter[LANG]`` is passed, and as `listLabel`/`formLabel`/`filterLabel` in `crm.deal.fields`.
- ``categories``: `crm.category.list` items for deals (camelCase, ``id``/``sort``/``entityTypeId``
  ints, the default funnel ``id: 0`` without ``originId``).
- ``statuses``: `crm.status.list` items (``ENTITY_ID`` ``DEAL_STAGE`` / ``DEAL_STAGE_<N>``,
  ``STATUS_ID`` ``C<N>:NEW`` ..., ``SORT`` string, ``SEMANTICS`` null/"S"/"F").
- ``companies``: ``{int id: record}`` as `crm.company.get` returns them.
- ``users``: ``{int id: record}`` as `user.get` returns them: ``ACTIVE`` a JSON bool,
  ``UF_DEPARTMENT`` a list of ints, fields whose value is NULL omitted entirely.
- ``departments``: ``{int id: record}`` as `department.get` returns them: ``SORT`` int, ``PARENT``
  and ``UF_HEAD`` strings, omitted when null (the root has no ``PARENT``).
- ``tasks``: ``{int id: record}`` as items of `tasks.task.list` (camelCase keys, string values:
  ``id``, ``title``, ``description``, ``status``, ``priority``, ``deadline`` (ISO or None),
  ``createdDate``, ``closedDate``, ``changedDate``, ``responsibleId``, ``createdBy``, ``groupId``,
  ``ufCrmTask`` (list like ``["D_10"]``)).
- ``events``: `calendar.event.get` items (``ID``, ``NAME``, ``CAL_TYPE``, ``OWNER_ID``,
  ``DATE_FROM``/``DATE_TO`` in the Russian portal format ``DD.MM.YYYY HH:MI:SS``,
  ``DATE_FROM_TS_UTC``/``DATE_TO_TS_UTC`` string Unix seconds, ``DT_SKIP_TIME`` "Y"/"N", ...).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass
class PortalStore:
    """Everything an emulated portal serves. Mutable: tests may add or change records."""

    deals: dict[int, Record] = field(default_factory=dict)
    deal_userfields: list[Record] = field(default_factory=list)
    categories: list[Record] = field(default_factory=list)
    statuses: list[Record] = field(default_factory=list)
    companies: dict[int, Record] = field(default_factory=dict)
    users: dict[int, Record] = field(default_factory=dict)
    departments: dict[int, Record] = field(default_factory=dict)
    tasks: dict[int, Record] = field(default_factory=dict)
    events: list[Record] = field(default_factory=list)
    #: The employee who created the webhook (`user.current`, `profile`).
    webhook_user_id: int = 1
    #: The portal's time zone: offsets in ISO dates and the envelope's ``date_start``.
    timezone: str = "Europe/Moscow"
    #: Language of the portal's UI: which label `crm.deal.fields` shows.
    language: str = "ru"
    license: str = "ru_project"

    def clone(self) -> PortalStore:
        """A deep copy, so a test can alter data without touching a shared store."""
        return copy.deepcopy(self)
