"""The emulated portal's in-memory data: raw records shaped exactly as the REST API returns them.

The store holds what a real Bitrix24 portal would hold, in the *output* shape of the REST
methods, so the emulator only has to filter, order, select and
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
- ``timeline_comments``: ``{int id: record}`` as `crm.timeline.comment.get` returns them (``ID``,
  ``CREATED``, ``ENTITY_ID``, ``ENTITY_TYPE``, ``AUTHOR_ID``, ``COMMENT``, ``FILES``).
- ``disk_storages``, ``disk_folders``, ``disk_files``: Drive objects as `disk.storage.get`,
  `disk.folder.get` and `disk.file.get` return them (upper-case keys, string values);
  ``disk_content`` holds each file's bytes. A fresh store has the webhook owner's drive
  (storage 1, root folder 1), so uploads work without any setup.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

# The webhook owner's personal drive: every portal user has one ("Мой диск"), so a fresh
# store can take uploads (disk.storage.uploadfile id=1, disk.folder.uploadfile id=1).
_MY_DRIVE: Record = {
    "ID": "1",
    "NAME": "Мой диск",
    "CODE": None,
    "MODULE_ID": "disk",
    "ENTITY_TYPE": "user",
    "ENTITY_ID": "1",
    "ROOT_OBJECT_ID": "1",
}
_MY_DRIVE_ROOT: Record = {
    "ID": "1",
    "NAME": "Мой диск",
    "CODE": None,
    "STORAGE_ID": "1",
    "TYPE": "folder",
    "REAL_OBJECT_ID": "1",
    "PARENT_ID": None,
    "DELETED_TYPE": "0",
    "CREATE_TIME": "2020-01-01T00:00:00+03:00",
    "UPDATE_TIME": "2020-01-01T00:00:00+03:00",
    "CREATED_BY": "1",
    "UPDATED_BY": "1",
}


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
    timeline_comments: dict[int, Record] = field(default_factory=dict)
    disk_storages: dict[int, Record] = field(default_factory=lambda: {1: dict(_MY_DRIVE)})
    disk_folders: dict[int, Record] = field(default_factory=lambda: {1: dict(_MY_DRIVE_ROOT)})
    disk_files: dict[int, Record] = field(default_factory=dict)
    disk_content: dict[int, bytes] = field(default_factory=dict)
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
