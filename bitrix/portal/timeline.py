"""CRM timeline comments: `crm.timeline.comment.add`, `.get`, `.list` (scope ``crm``).

- **add** takes ``fields``: ``ENTITY_ID`` and ``ENTITY_TYPE`` (``deal``, ``company``, …) are
  required, ``COMMENT`` is the text, ``AUTHOR_ID`` optional, ``FILES`` a list of
  ``[name, base64]`` pairs; the result is the new comment's id. "Starting from crm version
  23.100.0, the method only accepts parameters with the key ``fields`` in lowercase"
  (Bitrix24's REST docs: ``api-reference/crm/timeline/comments/crm-timeline-comment-add.md``), so
  ``FIELDS`` or ``Fields`` are as good as absent here.
- **list** needs ``filter`` with ``ENTITY_ID`` and ``ENTITY_TYPE`` (the docs: "При фильтрации
  обязательные поля - ENTITY_ID и ENTITY_TYPE"); otherwise a classic crm list (ORM paging,
  ``total``, ``select`` with ``*``).
- **get** takes ``id``.

Attached files go to Drive (`bitrix.portal.disk.store_file`, the webhook owner's drive) and come
back under ``FILES`` keyed by attachment id: ``{"id", "date", "type", "name", "size",
"urlDownload"}``; a comment without files has ``FILES: []`` (the PHP empty array).

Error answers are the classic crm kind (HTTP 400, ``"error": ""``, reference §2.2) — their exact
texts are not in our sources, so they mirror the crm.deal.get family: "ENTITY_ID is not defined
or invalid.", "Not found" for a missing deal (the brief's "unknown deal → error"), "Empty
comment message." when COMMENT is empty and no files are attached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bitrix.portal.calls import CallContext, MethodOutput, Params
from bitrix.portal.crm import crm_list
from bitrix.portal.disk import decode_content, store_file
from bitrix.portal.errors import classic_crm_error
from bitrix.portal.query import Record, as_php_array, iso, param, php_intval, php_string

#: Entity types a comment may be bound to, and where the store keeps them (``None``: this
#: emulator holds no such records, so every id is "Not found").
_ENTITY_STORES = {"deal": "deals", "company": "companies", "lead": None, "contact": None}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic")


def _entity_records(ctx: CallContext, entity_type: str) -> Mapping[int, Record] | None:
    if entity_type not in _ENTITY_STORES:
        return None
    attribute = _ENTITY_STORES[entity_type]
    records: Mapping[int, Record] = getattr(ctx.store, attribute) if attribute else {}
    return records


def _attachment(file: Mapping[str, Any]) -> Record:
    name = php_string(file.get("NAME"))
    kind = "image" if name.lower().endswith(_IMAGE_SUFFIXES) else "file"
    return {
        "id": php_intval(file.get("ID")),
        "date": file.get("CREATE_TIME"),
        "type": kind,
        "name": name,
        "size": php_intval(file.get("SIZE")),
        "urlDownload": file.get("DOWNLOAD_URL"),
    }


def comment_add(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.timeline.comment.add`: store a comment (and its files); the new id."""
    fields = as_php_array(params.get("fields"))  # lower-case key only (crm 23.100.0)
    if fields is None:
        raise classic_crm_error("The parameter 'fields' must be array.")
    upper = {k.upper(): v for k, v in fields.items()}
    entity_id = php_intval(upper.get("ENTITY_ID"))
    if entity_id <= 0:
        raise classic_crm_error("ENTITY_ID is not defined or invalid.")
    entity_type = php_string(upper.get("ENTITY_TYPE")).strip().lower()
    records = _entity_records(ctx, entity_type)
    if records is None:
        raise classic_crm_error("ENTITY_TYPE is not defined or invalid.")
    if entity_id not in records:
        raise classic_crm_error("Not found")
    author_id = php_intval(upper.get("AUTHOR_ID")) or ctx.options.user_id
    if author_id not in ctx.store.users:
        raise classic_crm_error("AUTHOR_ID is not defined or invalid.")
    comment = php_string(upper.get("COMMENT"))
    raw_files = as_php_array(upper.get("FILES")) or {}
    # Decode every file before storing any: a bad second photo must not leave the first one
    # behind on Drive while the comment itself is refused.
    decoded = [decode_content(pair, "FILES") for pair in raw_files.values()]
    if not comment.strip() and not decoded:
        raise classic_crm_error("Empty comment message.")
    storage = ctx.store.disk_storages.get(1)
    folder_id = php_intval(storage.get("ROOT_OBJECT_ID")) if storage else 1
    files = [store_file(ctx, folder_id, n, c, unique=True) for n, c in decoded]
    comment_id = max(ctx.store.timeline_comments, default=0) + 1
    ctx.store.timeline_comments[comment_id] = {
        "ID": str(comment_id),
        "CREATED": iso(ctx.moment),
        "ENTITY_ID": str(entity_id),
        "ENTITY_TYPE": entity_type,
        "AUTHOR_ID": str(author_id),
        "COMMENT": comment,
        "FILES": {php_string(f["ID"]): _attachment(f) for f in files},
    }
    return MethodOutput(comment_id)


def comment_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.timeline.comment.get`: one comment by ``id``."""
    comment_id = php_intval(param(params, "id"))
    if comment_id <= 0:
        raise classic_crm_error("ID is not defined or invalid.")
    record = ctx.store.timeline_comments.get(comment_id)
    if record is None:
        raise classic_crm_error("Not found")
    return MethodOutput(dict(record))


def comment_list(ctx: CallContext, params: Params) -> MethodOutput:
    """`crm.timeline.comment.list`: the comments of one CRM item (ENTITY_ID + ENTITY_TYPE)."""
    raw_filter = as_php_array(param(params, "filter")) or {}
    upper = {k.upper(): v for k, v in raw_filter.items()}
    if php_intval(upper.get("ENTITY_ID")) <= 0:
        raise classic_crm_error("ENTITY_ID is not defined or invalid.")
    if not php_string(upper.get("ENTITY_TYPE")).strip():
        raise classic_crm_error("ENTITY_TYPE is not defined or invalid.")
    return crm_list(ctx, params, ctx.store.timeline_comments.values())
