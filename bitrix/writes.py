"""Writes into Bitrix24 that happen at most once, and are recognised when their answer is lost.

Usage::

    writer = BitrixWriter(client)
    draft = TaskDraft("Проверить подвал", responsible_id=8, deal_id=2, deadline=friday)
    written = await writer.write(draft, key="3f9c2a7d41b0")      # Written(kind="task", id=…)
    # after a restart, or when an earlier attempt's fate is unknown:
    written = await writer.write(draft, key="3f9c2a7d41b0", check_first=True)

**The problem.** A write (``tasks.task.add``, ``crm.timeline.comment.add``,
``calendar.event.add``, ``disk.folder.uploadfile``) can reach Bitrix24 and be applied while its
answer is lost: a timeout, a dropped connection, a 5xx from a proxy. Repeating it blindly makes
a duplicate; the client (`bitrix.client`) therefore never retries a write after the request may
have run (a 500 on ``*.add`` may have succeeded: Bitrix24 applies the write before it fails).

**The idempotency marker.** Every write carries a caller-chosen ``key`` (the bot's journal id of
the confirmed action; 6–64 of ``[A-Za-z0-9_-]``) inside the object it creates, where a later read
returns it verbatim:

- task → the last line of ``DESCRIPTION``: ``[audiobot:<key>]``;
- timeline comment → the last line of ``COMMENT``;
- calendar event → the last line of ``description``;
- Drive file → the file name: ``photo.audiobot-<key>.jpg``.

Why text and not ``XML_ID``: Bitrix24's REST documentation gives only these fields for the methods
(tasks-task-add.md: TITLE, RESPONSIBLE_ID, DEADLINE, CREATED_BY, UF_CRM_TASK,
UF_TASK_WEBDAV_FILES; crm-timeline-comment-add.md: ENTITY_ID, ENTITY_TYPE, COMMENT, AUTHOR_ID,
FILES; calendar-event-add.md: type, ownerId, from, to, section, name, description, …;
disk-folder-upload-file.md: data.NAME, fileContent), and none of them documents an external-id
field for these entities. The marker is visible to people in Bitrix24 — one short line, the
price of a check that works on every portal. For files the name *is* the marker, and it also
makes a repeated upload fail instead of duplicating (a folder refuses a second file of the same
name unless ``generateUniqueName`` is set).

**Finding a write** (`BitrixWriter.find_written`) reads back only what a documented list method
filters on, and matches the marker client-side (no method here documents a substring filter on
a description): tasks of the webhook's user as creator (``CREATED_BY``, ``RESPONSIBLE_ID``, and
optionally ``>=CREATED_DATE``) via ``tasks.task.list``; the deal's comments via
``crm.timeline.comment.list`` (filter ENTITY_ID + ENTITY_TYPE, both required there); the
calendar's events in the event's own window via ``calendar.event.get``; the folder's children
named exactly so via ``disk.folder.getchildren``. More than one match (someone copied a
marker) returns the lowest id: the first written.

**Errors** stay in the `bitrix.errors` tree, re-labelled for users:

- nothing can have been written — a Bitrix JSON error of 4xx (validation, ``insufficient_scope``,
  credentials, "Not found"), 503 ``QUERY_LIMIT_EXCEEDED`` and 429 ``OPERATION_TIME_LIMIT``
  (both refused before the method runs, reference §5–6), a redirect, a refused connection: the
  same exception class with ``user_message`` «Не удалось создать задачу: …; в Bitrix24 ничего не
  записано.»;
- it may have been written — timeout, dropped connection, 5xx, a non-JSON answer: the writer
  looks the object up by its marker (`checking_message` is what the bot may show meanwhile:
  «Ответ Bitrix24 не дошёл — проверяю, создана ли задача.»). Found: an ordinary `Written` with
  ``recovered=True``. Not found, or the lookup failed: `BitrixWriteUnconfirmed`, whose message
  says so and that a repeat (with ``check_first=True``, same key) cannot duplicate.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from bitrix.errors import (
    BitrixAccessDenied,
    BitrixAPIError,
    BitrixAuthError,
    BitrixBadResponse,
    BitrixConnectError,
    BitrixError,
    BitrixHTTPError,
    BitrixInsufficientScope,
    BitrixLimitError,
    BitrixNotFound,
    BitrixPortalMoved,
    BitrixRequestError,
    BitrixServerError,
    BitrixTransportError,
    BitrixWriteUnconfirmed,
    scope_for_method,
)
from bitrix.values import as_int

__all__ = [
    "NOTHING_WRITTEN",
    "BitrixWriter",
    "CommentDraft",
    "Draft",
    "EventDraft",
    "FileDraft",
    "TaskDraft",
    "Written",
    "checking_message",
    "marker",
    "may_have_written",
]

WriteKind = Literal["task", "comment", "event", "file"]

_KEY = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
# Disk refuses a second file of the same name in a folder (no generateUniqueName).
_NON_UNIQUE_NAME = "DISK_OBJ_22000"


#: How a refused write's message ends; a caller that wrote something before (photos) says so
#: instead.
NOTHING_WRITTEN = "в Bitrix24 ничего не записано"


def marker(key: str) -> str:
    """The text marker of a write: ``[audiobot:<key>]``."""
    return f"[audiobot:{_checked(key)}]"


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError("an idempotency key is 6-64 characters of A-Z, a-z, 0-9, _ and -")
    return key


def _with_marker(text: str, key: str) -> str:
    body = text.rstrip()
    return f"{body}\n\n{marker(key)}" if body else marker(key)


def _has_marker(text: Any, key: str) -> bool:
    return isinstance(text, str) and marker(key) in text


def _marked_name(name: str, key: str) -> str:
    path = PurePosixPath(name)
    return f"{path.stem}.audiobot-{_checked(key)}{path.suffix}"


# --- drafts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """A task (``tasks.task.add``): bound to a house's deal with ``deal_id``.

    ``deadline`` must be time-zone aware; ``file_ids`` are Drive file ids (attached as
    ``UF_TASK_WEBDAV_FILES: ["n<id>"]``). The creator is always the webhook's user.
    """

    title: str
    responsible_id: int
    description: str = ""
    deadline: datetime | None = None
    deal_id: int | None = None
    file_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CommentDraft:
    """A comment on a deal's timeline (``crm.timeline.comment.add``), with files (photos)."""

    deal_id: int
    text: str
    files: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class EventDraft:
    """A calendar event (``calendar.event.add``); ``begins``/``ends`` time-zone aware.

    ``section_id`` is the calendar (section) to write into — required by Bitrix24; the
    company calendar is ``calendar_type="company_calendar"``, ``owner_id=0``.
    """

    name: str
    begins: datetime
    ends: datetime
    section_id: int
    calendar_type: str = "company_calendar"
    owner_id: int = 0
    description: str = ""
    location: str = ""
    attendees: tuple[int, ...] = ()
    all_day: bool = False


@dataclass(frozen=True, slots=True)
class FileDraft:
    """A file uploaded to a Drive folder (``disk.folder.uploadfile``, base64 content)."""

    folder_id: int
    name: str
    content: bytes = field(repr=False)


Draft = TaskDraft | CommentDraft | EventDraft | FileDraft


@dataclass(frozen=True, slots=True)
class Written:
    """A created object: its ``kind`` and Bitrix24 ``id``.

    ``recovered`` is true when the write's own answer was lost (or ``check_first`` found an
    earlier attempt) and the object was found by its marker. ``record`` is what Bitrix24
    returned or what the lookup read (the task, the comment, the event, the file).
    """

    kind: WriteKind
    id: int
    key: str
    recovered: bool = False
    record: Mapping[str, Any] = field(default_factory=dict)


# --- messages -----------------------------------------------------------------------------

# kind → (infinitive of the action, noun, "created" and "found" in the noun's gender)
_WORDS: dict[str, tuple[str, str, str, str]] = {
    "task": ("создать задачу", "задача", "создана", "найдена"),
    "comment": ("добавить комментарий", "комментарий", "добавлен", "найден"),
    "event": ("создать событие", "событие", "создано", "найдено"),
    "file": ("загрузить файл", "файл", "загружен", "найден"),
}


def checking_message(kind: WriteKind) -> str:
    """What the bot may say while it looks up a write whose answer was lost."""
    _, noun, done, _found = _WORDS[kind]
    return f"Ответ Bitrix24 не дошёл — проверяю, {done} ли {noun}."


def _reason(error: BitrixError) -> str:
    """Why Bitrix24 refused, in a few Russian words (for «Не удалось …: <reason>»)."""
    if isinstance(error, BitrixInsufficientScope):
        scope = scope_for_method(error.method) or "?"
        return f"у вебхука нет права «{scope}»"
    if isinstance(error, BitrixNotFound):
        return f"Bitrix24 не нашёл нужную запись ({error.description or 'Not found'})"
    if isinstance(error, BitrixRequestError):
        # tasks' ERROR_CORE texts end in "<br>" (an HTML line break from the task module).
        detail = re.sub(r"<[^>]*>", " ", error.description).strip()
        return f"Bitrix24 отклонил данные ({detail or error.code or 'без описания'})"
    if isinstance(error, BitrixAuthError):
        return "вебхук Bitrix24 не принят"
    if isinstance(error, BitrixAccessDenied):
        return "нет прав в Bitrix24"
    if isinstance(error, BitrixLimitError):
        return "Bitrix24 перегружен запросами, попробуйте через минуту"
    if isinstance(error, BitrixConnectError):
        return "нет связи с Bitrix24"
    return error.user_message.rstrip(".")


def may_have_written(error: BitrixError) -> bool:
    """Whether a failed write call may nevertheless have been applied by Bitrix24.

    No: any Bitrix JSON error below 500 — validation, scope and credentials errors, and the
    limits 503 QUERY_LIMIT_EXCEEDED / 429 OPERATION_TIME_LIMIT, both answered before the method
    runs (reference §5, §6.2) — a redirect, a refused connection. Yes: a timeout, a dropped
    connection, a 5xx, an answer that is not JSON.
    """
    if isinstance(error, BitrixLimitError | BitrixPortalMoved | BitrixConnectError):
        return False
    if isinstance(error, BitrixServerError | BitrixBadResponse | BitrixTransportError):
        return True
    if isinstance(error, BitrixAPIError):
        return (error.status or 0) >= 500
    return isinstance(error, BitrixHTTPError)


class _Client(Protocol):
    """What the writer needs of `bitrix.client.BitrixClient`."""

    @property
    def user_id(self) -> int: ...

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def list_all(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        expected_rows: int | None = None,
    ) -> list[dict[str, Any]]: ...


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("write times must be time-zone aware")
    return moment.isoformat(timespec="seconds")


# --- the writer ---------------------------------------------------------------------------


class BitrixWriter:
    """Typed, exactly-once writes over a `bitrix.client.BitrixClient` (passed in)."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    @property
    def user_id(self) -> int:
        """The webhook's user: the creator of everything written (links name them)."""
        return self._client.user_id

    # -- typed shortcuts -----------------------------------------------------------------

    async def add_task(self, draft: TaskDraft, *, key: str, check_first: bool = False) -> Written:
        """``tasks.task.add`` with the marker in DESCRIPTION."""
        return await self.write(draft, key=key, check_first=check_first)

    async def add_timeline_comment(
        self, draft: CommentDraft, *, key: str, check_first: bool = False
    ) -> Written:
        """``crm.timeline.comment.add`` on the deal, files as ``[name, base64]`` pairs."""
        return await self.write(draft, key=key, check_first=check_first)

    async def add_calendar_event(
        self, draft: EventDraft, *, key: str, check_first: bool = False
    ) -> Written:
        """``calendar.event.add`` with the marker in the description."""
        return await self.write(draft, key=key, check_first=check_first)

    async def upload_file(
        self, draft: FileDraft, *, key: str, check_first: bool = False
    ) -> Written:
        """``disk.folder.uploadfile``; the stored name carries the key."""
        return await self.write(draft, key=key, check_first=check_first)

    # -- core ----------------------------------------------------------------------------

    async def write(self, draft: Draft, *, key: str, check_first: bool = False) -> Written:
        """Write ``draft`` once under ``key``; see the module docstring for errors.

        ``check_first`` looks the key up before writing (an earlier attempt whose outcome is
        unknown, e.g. after a restart) and returns that object instead of writing again.
        """
        _checked(key)
        kind = _kind(draft)
        if check_first:
            earlier, lookup_error = await self._lookup(draft, key)
            if lookup_error is not None:
                _, noun, done, _found = _WORDS[kind]
                raise lookup_error.with_user_message(
                    f"Не удалось проверить, {done} ли {noun} раньше: {_reason(lookup_error)}. "
                    "Сейчас ничего не записано; повторите позже."
                )
            if earlier is not None:
                return earlier
        method, params = self._request(draft, key)
        failure: BitrixError | None = None
        try:
            response = await self._client.call(method, params)
        except BitrixError as exc:
            failure = exc
        if failure is None:
            return _written(kind, key, response.result, draft)
        duplicate_name = isinstance(failure, BitrixAPIError) and failure.code == _NON_UNIQUE_NAME
        if not may_have_written(failure) and not (kind == "file" and duplicate_name):
            action = _WORDS[kind][0]
            message = f"Не удалось {action}: {_reason(failure)}; {NOTHING_WRITTEN}."
            raise failure.with_user_message(message)
        return await self._recover(draft, key, failure)

    async def _recover(self, draft: Draft, key: str, failure: BitrixError) -> Written:
        kind = _kind(draft)
        _, noun, done, found_word = _WORDS[kind]
        found, lookup_error = await self._lookup(draft, key)
        if found is not None:
            return found
        if lookup_error is not None:
            message = (
                f"Ответ Bitrix24 не дошёл, и проверить, {done} ли {noun}, не удалось. "
                "Повторите позже — перед повтором бот проверит ещё раз, дубля не будет."
            )
            cause = str(lookup_error)
        else:
            message = (
                f"Ответ Bitrix24 не дошёл, и {noun} там пока не {found_word}. "
                "Повторите позже — перед повтором бот проверит ещё раз, дубля не будет."
            )
            cause = None
        raise BitrixWriteUnconfirmed(
            f"{failure.method}: answer lost ({failure.code or failure.kind}); "
            + ("lookup failed" if lookup_error else "no object with the marker"),
            method=failure.method,
            status=failure.status,
            cause=cause,
            key=key,
            write_kind=kind,
            user_message=message,
        )

    async def _lookup(self, draft: Draft, key: str) -> tuple[Written | None, BitrixError | None]:
        """`find_written`, with its failure returned (raised later, outside ``except``)."""
        try:
            return await self.find_written(draft, key), None
        except BitrixError as exc:
            return None, exc

    def _request(self, draft: Draft, key: str) -> tuple[str, dict[str, Any]]:
        if isinstance(draft, TaskDraft):
            fields: dict[str, Any] = {
                "TITLE": draft.title,
                "RESPONSIBLE_ID": draft.responsible_id,
                "DESCRIPTION": _with_marker(draft.description, key),
            }
            if draft.deadline is not None:
                fields["DEADLINE"] = _iso(draft.deadline)
            if draft.deal_id is not None:
                fields["UF_CRM_TASK"] = [f"D_{draft.deal_id}"]
            if draft.file_ids:
                fields["UF_TASK_WEBDAV_FILES"] = [f"n{i}" for i in draft.file_ids]
            return "tasks.task.add", {"fields": fields}
        if isinstance(draft, CommentDraft):
            comment: dict[str, Any] = {
                "ENTITY_ID": draft.deal_id,
                "ENTITY_TYPE": "deal",
                "COMMENT": _with_marker(draft.text, key),
            }
            if draft.files:
                comment["FILES"] = [
                    [name, base64.b64encode(content).decode()] for name, content in draft.files
                ]
            # "only accepts parameters with the key `fields` in lowercase" since crm 23.100.0
            # (Bitrix24's REST docs: crm-timeline-comment-add.md).
            return "crm.timeline.comment.add", {"fields": comment}
        if isinstance(draft, EventDraft):
            params: dict[str, Any] = {
                "type": draft.calendar_type,
                "ownerId": draft.owner_id,
                "section": draft.section_id,
                "name": draft.name,
                "description": _with_marker(draft.description, key),
            }
            if draft.all_day:
                params |= {
                    "from": draft.begins.date().isoformat(),
                    "to": draft.ends.date().isoformat(),
                    "skip_time": "Y",
                }
            else:
                params |= {"from": _iso(draft.begins), "to": _iso(draft.ends)}
                for side, moment in (("from", draft.begins), ("to", draft.ends)):
                    if isinstance(moment.tzinfo, ZoneInfo):
                        params[f"timezone_{side}"] = moment.tzinfo.key
            if draft.location:
                params["location"] = draft.location
            if draft.attendees:
                params |= {"attendees": list(draft.attendees), "is_meeting": "Y"}
            return "calendar.event.add", params
        name = _marked_name(draft.name, key)
        return "disk.folder.uploadfile", {
            "id": draft.folder_id,
            "data": {"NAME": name},
            "fileContent": [name, base64.b64encode(draft.content).decode()],
        }

    # -- lookup --------------------------------------------------------------------------

    async def find_written(
        self, draft: Draft, key: str, *, since: datetime | None = None
    ) -> Written | None:
        """The object written under ``key`` for ``draft``, or ``None`` (see module docstring).

        ``since`` (aware) narrows the task search to tasks created from then on.
        """
        _checked(key)
        if isinstance(draft, TaskDraft):
            task_filter: dict[str, Any] = {
                "CREATED_BY": self._client.user_id,
                "RESPONSIBLE_ID": draft.responsible_id,
            }
            if since is not None:
                task_filter[">=CREATED_DATE"] = _iso(since)
            rows = await self._client.list_all(
                "tasks.task.list",
                {
                    "filter": task_filter,
                    "select": [
                        "ID", "TITLE", "DESCRIPTION", "RESPONSIBLE_ID", "CREATED_BY",
                        "CREATED_DATE", "DEADLINE", "UF_CRM_TASK",
                    ],
                },
            )  # fmt: skip
            return _first(rows, "task", key, "id", "description")
        if isinstance(draft, CommentDraft):
            rows = await self._client.list_all(
                "crm.timeline.comment.list",
                {
                    "filter": {"ENTITY_ID": draft.deal_id, "ENTITY_TYPE": "deal"},
                    "select": ["ID", "CREATED", "ENTITY_ID", "ENTITY_TYPE", "AUTHOR_ID",
                               "COMMENT", "FILES"],
                },
            )  # fmt: skip
            return _first(rows, "comment", key, "ID", "COMMENT")
        if isinstance(draft, EventDraft):
            # The event's own day(s): calendar.event.get has no paging, only a window.
            first_day: date = draft.begins.date()
            last_day: date = draft.ends.date() + timedelta(days=1)
            rows = await self._client.list_all(
                "calendar.event.get",
                {
                    "type": draft.calendar_type,
                    "ownerId": draft.owner_id,
                    "from": first_day.isoformat(),
                    "to": last_day.isoformat(),
                },
            )
            return _first(rows, "event", key, "ID", "DESCRIPTION")
        name = _marked_name(draft.name, key)
        response = await self._client.call(
            "disk.folder.getchildren", {"id": draft.folder_id, "filter": {"NAME": name}}
        )
        children = response.result if isinstance(response.result, list) else []
        named = [c for c in children if isinstance(c, Mapping) and c.get("NAME") == name]
        return _first(named, "file", key, "ID", None)


def _kind(draft: Draft) -> WriteKind:
    if isinstance(draft, TaskDraft):
        return "task"
    if isinstance(draft, CommentDraft):
        return "comment"
    if isinstance(draft, EventDraft):
        return "event"
    return "file"


def _first(
    rows: Sequence[Mapping[str, Any]],
    kind: WriteKind,
    key: str,
    id_field: str,
    text_field: str | None,
) -> Written | None:
    """The lowest-id row carrying the key's marker in ``text_field`` (``None``: every row)."""
    hits = [
        (as_int(r.get(id_field)), r)
        for r in rows
        if text_field is None or _has_marker(r.get(text_field), key)
    ]
    hits = [(i, r) for i, r in hits if i is not None]
    if not hits:
        return None
    object_id, record = min(hits, key=lambda hit: hit[0] or 0)
    return Written(kind, int(object_id or 0), key, recovered=True, record=dict(record))


def _written(kind: WriteKind, key: str, result: Any, draft: Draft) -> Written:
    """A `Written` from a write's own answer (each method answers differently)."""
    if kind == "task":
        task = result.get("task") if isinstance(result, Mapping) else None
        record = dict(task) if isinstance(task, Mapping) else {}
        object_id = as_int(record.get("id"))
    elif kind == "file":
        record = dict(result) if isinstance(result, Mapping) else {}
        object_id = as_int(record.get("ID"))
    else:
        # crm.timeline.comment.add and calendar.event.add answer the bare new id.
        object_id = as_int(result)
        record = {"ID": str(object_id)} if object_id is not None else {}
    if object_id is None:
        raise BitrixBadResponse(
            f"{kind} written but the answer carries no id",
            method=_method_of(draft),
            user_message=(
                f"Bitrix24 ответил без номера записи; {_WORDS[kind][1]}, вероятно, "
                f"{_WORDS[kind][2]} — проверьте в Bitrix24."
            ),
        )
    return Written(kind, object_id, key, recovered=False, record=record)


def _method_of(draft: Draft) -> str:
    return {
        "task": "tasks.task.add",
        "comment": "crm.timeline.comment.add",
        "event": "calendar.event.add",
        "file": "disk.folder.uploadfile",
    }[_kind(draft)]
