"""Drive (``disk`` scope): uploads as Bitrix24 documents them, and the reads to check them.

- `disk.folder.uploadfile` / `disk.storage.uploadfile`: ``id`` (folder / storage), ``data.NAME``
  (required), ``fileContent: [name, base64]``, ``generateUniqueName``; the answer is the new
  file "like disk.file.get" (Bitrix24's REST docs: ``api-reference/disk/folder/
  disk-folder-upload-file.md``; the storage variant uploads into the storage's root folder).
- `disk.file.get` (``id``) and `disk.folder.getchildren` (``id``, ``filter``) read them back, so
  a client can look an upload up by its name after a lost answer.

Files attached elsewhere (``FILES`` of `crm.timeline.comment.add`) are stored the same way
through `store_file`, as Bitrix24 keeps them on Drive ("File (Drive)", Bitrix24's REST docs:
``api-reference/files/how-to-upload-files.md``).

Not in Bitrix24's REST docs, so emulator choices (kept close to the disk module's REST
errors as remembered, and stricter rather than looser): an unknown folder or storage is
``ERROR_NOT_FOUND`` "Could not find entity with id 'N'."; a missing ``data.NAME`` is
``ERROR_ARGUMENT`` "Error: required parameter NAME"; a name already present in the folder
(without ``generateUniqueName``) is ``DISK_OBJ_22000``; content that is not base64 is
``ERROR_ARGUMENT`` rather than an empty file.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from bitrix.portal.calls import CallContext, MethodOutput, Params
from bitrix.portal.errors import MethodError
from bitrix.portal.query import (
    Record,
    as_php_array,
    iso,
    param,
    parse_filter,
    php_intval,
    php_string,
    php_truthy,
    record_matches,
)


def _not_found(entity_id: Any) -> MethodError:
    return MethodError("ERROR_NOT_FOUND", f"Could not find entity with id '{entity_id}'.", 400)


def _argument(name: str, description: str | None = None) -> MethodError:
    return MethodError(
        "ERROR_ARGUMENT",
        description or f"Error: required parameter {name}",
        400,
        {"argument": name},
    )


def decode_content(value: Any, argument: str) -> tuple[str, bytes]:
    """A ``[name, base64]`` pair (the documented file form) as ``(name, bytes)``."""
    pair = as_php_array(value)
    items = list(pair.values()) if pair else []
    if len(items) < 2 or not php_string(items[0]).strip():
        raise _argument(argument, f"Error: {argument} must be [name, base64 content]")
    try:
        content = base64.b64decode(php_string(items[1]), validate=True)
    except (binascii.Error, ValueError):
        raise _argument(argument, f"Error: {argument} is not valid base64") from None
    return php_string(items[0]).strip(), content


def _unique_name(ctx: CallContext, folder_id: int, name: str) -> str:
    """``avatar.jpg`` → ``avatar (1).jpg``, ``avatar (2).jpg``… (the documented suffixes)."""
    taken = _names_in(ctx, folder_id)
    if name not in taken:
        return name
    path = PurePosixPath(name)
    for number in range(1, 10_000):
        candidate = f"{path.stem} ({number}){path.suffix}"
        if candidate not in taken:
            return candidate
    raise MethodError("DISK_OBJ_22000", "Non unique name", 400)


def _names_in(ctx: CallContext, folder_id: int) -> set[str]:
    return {
        php_string(f.get("NAME"))
        for f in ctx.store.disk_files.values()
        if php_intval(f.get("PARENT_ID")) == folder_id
    }


def store_file(
    ctx: CallContext, folder_id: int, name: str, content: bytes, *, unique: bool = False
) -> Record:
    """Save ``content`` as a new Drive file in ``folder_id``; the `disk.file.get` record."""
    folder = ctx.store.disk_folders.get(folder_id)
    if folder is None:
        raise _not_found(folder_id)
    if unique:
        name = _unique_name(ctx, folder_id, name)
    elif name in _names_in(ctx, folder_id):
        raise MethodError("DISK_OBJ_22000", "Non unique name", 400)
    ids = [*ctx.store.disk_files, *ctx.store.disk_folders]
    file_id = max(ids, default=0) + 1
    now = iso(ctx.moment)
    author = str(ctx.options.user_id)
    record: Record = {
        "ID": str(file_id),
        "NAME": name,
        "CODE": None,
        "STORAGE_ID": php_string(folder.get("STORAGE_ID")),
        "TYPE": "file",
        "PARENT_ID": str(folder_id),
        "DELETED_TYPE": "0",
        "GLOBAL_CONTENT_VERSION": "1",
        "FILE_ID": str(file_id),
        "SIZE": str(len(content)),
        "CREATE_TIME": now,
        "UPDATE_TIME": now,
        "DELETE_TIME": None,
        "CREATED_BY": author,
        "UPDATED_BY": author,
        "DELETED_BY": "0",
        "DOWNLOAD_URL": f"/rest/download.json?id={file_id}",
        "DETAIL_URL": f"/docs/file/{name}",
    }
    ctx.store.disk_files[file_id] = record
    ctx.store.disk_content[file_id] = content
    return record


def _upload(ctx: CallContext, params: Params, folder_id: int) -> MethodOutput:
    data = as_php_array(param(params, "data")) or {}
    name = php_string(data.get("NAME")).strip()
    if not name:
        raise _argument("NAME")
    raw = param(params, "fileContent")
    if raw is None:
        raise _argument("fileContent")
    _, content = decode_content(raw, "fileContent")
    unique = php_truthy(param(params, "generateUniqueName"))
    return MethodOutput(dict(store_file(ctx, folder_id, name, content, unique=unique)))


def folder_uploadfile(ctx: CallContext, params: Params) -> MethodOutput:
    """`disk.folder.uploadfile`: a new file in folder ``id``."""
    raw_id = param(params, "id")
    if raw_id is None:
        raise _argument("id")
    return _upload(ctx, params, php_intval(raw_id))


def storage_uploadfile(ctx: CallContext, params: Params) -> MethodOutput:
    """`disk.storage.uploadfile`: a new file in the root folder of storage ``id``."""
    raw_id = param(params, "id")
    if raw_id is None:
        raise _argument("id")
    storage = ctx.store.disk_storages.get(php_intval(raw_id))
    if storage is None:
        raise _not_found(raw_id)
    return _upload(ctx, params, php_intval(storage.get("ROOT_OBJECT_ID")))


def file_get(ctx: CallContext, params: Params) -> MethodOutput:
    """`disk.file.get`: one file by ``id``."""
    raw_id = param(params, "id")
    record = ctx.store.disk_files.get(php_intval(raw_id))
    if record is None:
        raise _not_found(raw_id)
    return MethodOutput(dict(record))


def folder_getchildren(ctx: CallContext, params: Params) -> MethodOutput:
    """`disk.folder.getchildren`: the files of folder ``id``, optionally filtered (``NAME``)."""
    raw_id = param(params, "id")
    folder_id = php_intval(raw_id)
    if folder_id not in ctx.store.disk_folders:
        raise _not_found(raw_id)
    raw_filter: Mapping[str, Any] = as_php_array(param(params, "filter")) or {}
    conditions = parse_filter(dict(raw_filter), fields=None)
    children = [
        dict(f)
        for f in ctx.store.disk_files.values()
        if php_intval(f.get("PARENT_ID")) == folder_id and record_matches(f, conditions, ctx.tz)
    ]
    return MethodOutput(children)
