"""Writes into Bitrix24 asked for in words: a preview first, then exactly one write (SPEC §9).

The flow, shared by Telegram, the terminal chat and `audiobot ask` through `Assistant.ask`:

1. `bot.nlu.commands.parse_command` understands a write request as a `Command` (what, which
   house, whom, when). Anything it could not resolve — an unknown house, two Петровы, no date
   for a meeting — is asked back (`Actions.propose` returns a question), never guessed.
2. `Actions.propose` turns the command into a `Plan`: exactly what will be written where
   (the object, its fields, the responsible person, the deadline, the house's deal, the number
   of photos). Its preview is kept in the state store under a random key for that `Actor` only,
   for ``CONFIRM_TTL`` seconds (`bot.state.StateStore.put_preview`).
3. `Actions.confirm` claims the key in one transaction (`StateStore.claim_write`): a second
   press, a retried callback or a second replica finds it claimed and writes nothing. It
   writes through `bitrix.writes.BitrixWriter` with the key as the idempotency marker, records
   the outcome and journals it. A retry after a failure, a lost answer or a crash looks the
   object up by the key first, so it cannot make a second one.

Which Bitrix24 object each write intent makes (SPEC §9):

- ``house.done`` → a timeline comment on the house's deal, photos attached (``FILES``);
- ``house.problem`` → a task bound to the deal (``UF_CRM_TASK: ["D_<id>"]``) for the head of the
  house's brigade, or ``PROBLEM_RESPONSIBLE_ID``; photos uploaded to Drive and attached;
- ``task.create`` → a task for the named person, bound to the house if one was named;
- ``calendar.create`` → an event in the company calendar (``BITRIX_CALENDAR_SECTION_ID``).

Nothing here knows Telegram or HTTP: photos arrive as files already saved on disk, and the
answers are Russian texts. Errors of Bitrix24 stay in the `bitrix.errors` tree and are turned
into a sentence that says what failed and that nothing (or what) was written.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from bitrix.company import CompanySnapshot
from bitrix.errors import BitrixError, BitrixWriteUnconfirmed
from bitrix.models import Employee, House
from bitrix.writes import (
    NOTHING_WRITTEN,
    BitrixWriter,
    CommentDraft,
    EventDraft,
    FileDraft,
    TaskDraft,
    Written,
)
from bot.answers import day_label
from bot.nlu.commands import Command
from bot.state import StateStore

__all__ = ["Actions", "Actor", "Outcome", "Plan", "Proposal", "confirmation"]

log = logging.getLogger(__name__)

WriteIntent = Literal["house.done", "house.problem", "task.create", "calendar.create"]

#: How long one attempt holds a claimed write: longer than a write with retries can take
#: (the client's timeout is 60 s), so a live attempt is never overtaken by a second one.
LEASE_S = 120.0
#: A meeting said without its length lasts an hour.
EVENT_LENGTH = timedelta(hours=1)
#: Telegram sends at most 10 photos in an album; more is surely a mistake.
MAX_PHOTOS = 10

_OBJECT = {
    "house.done": "комментарий в карточке дома",
    "house.problem": "задачу",
    "task.create": "задачу",
    "calendar.create": "событие в календаре",
}


@dataclass(frozen=True)
class Actor:
    """Who asks for a write: whose ✅ counts, and who is named in Bitrix24 and the journal.

    ``id`` is stable per person and channel (``tg:<telegram id>``, ``chat``); ``may_write`` is
    true for linked employees and admins (SPEC §9). ``preview_only``: show what would be written
    and keep nothing (`audiobot ask`).
    """

    id: str
    name: str
    employee: Employee | None = None
    may_write: bool = True
    preview_only: bool = False


@dataclass(frozen=True)
class Plan:
    """What one confirmed write will create; JSON-able (`to_json`) so it survives a restart."""

    intent: WriteIntent
    request: str
    actor_id: str
    actor_name: str
    title: str
    deal_id: int | None = None
    house: str = ""
    responsible_id: int | None = None
    responsible: str = ""
    deadline: str | None = None  # ISO 8601 with offset
    begins: str | None = None
    ends: str | None = None
    attendees: tuple[int, ...] = ()
    photos: tuple[str, ...] = ()
    created_at: float = 0.0
    #: What was a guess and must be checked in the preview («адрес», «сотрудника»).
    checks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The plan as stored in the state store."""
        data = dict(self.__dict__)
        data["attendees"] = list(self.attendees)
        data["photos"] = list(self.photos)
        data["checks"] = list(self.checks)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """A stored plan (unknown keys from a newer build are ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["attendees"] = tuple(known.get("attendees", ()))
        known["photos"] = tuple(known.get("photos", ()))
        known["checks"] = tuple(known.get("checks", ()))
        return cls(**known)


@dataclass(frozen=True)
class Proposal:
    """The answer to a write request: a preview waiting for ✅ (``key``), or a question.

    ``key`` is empty when nothing waits: the request was refused, asked back, or shown only
    (`Actor.preview_only`). ``plan`` is set whenever a preview was made.
    """

    text: str
    key: str = ""
    plan: Plan | None = None


@dataclass(frozen=True)
class Outcome:
    """How a confirmation ended: the text to show, and whether the preview is settled.

    ``final`` is false when pressing ✅ again makes sense (a failure that wrote nothing, or a
    write whose fate is unknown): the buttons stay.
    """

    text: str
    final: bool = True
    written: Written | None = None
    #: What happened: a `bot.state.ClaimOutcome` when nothing was attempted (``busy``,
    #: ``done``, ``foreign``, ``expired``, ``missing``), else ``written``, ``failed``,
    #: ``unconfirmed`` or ``cancelled``.
    kind: str = "written"


@dataclass
class Actions:
    """Previews and exactly-once writes (see the module docstring)."""

    state: StateStore
    writer: BitrixWriter
    tz: tzinfo
    #: The product's clock as wall time (``Clock.now``): deadlines, "when" in the journal.
    now: Callable[[], datetime]
    #: The webhook URL (a secret: only its origin is ever shown, in links).
    portal_url: str = field(repr=False)
    enabled: bool = True
    confirm_ttl_s: float = 600.0
    photo_window_s: float = 180.0
    problem_responsible_id: int | None = None
    calendar_section_id: int = 1
    photo_folder_id: int = 1
    #: Called after a successful write, so the next answers see it (a snapshot refresh).
    on_written: Callable[[], object] | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)

    def _epoch(self) -> float:
        # Expiry and leases follow the product's clock (tests move it; DEMO_DATE shifts it).
        return self.now().timestamp()

    # ------------------------------------------------------------------ propose
    async def propose(
        self,
        command: Command,
        snapshot: CompanySnapshot,
        actor: Actor,
        photos: Sequence[Path] = (),
    ) -> Proposal:
        """The preview of ``command`` for ``actor`` (kept for ✅), or what must be asked."""
        if not self.enabled:
            return Proposal(
                "Запись в Bitrix24 выключена администратором (WRITE_ENABLED=false). "
                "Сделайте это в самом Bitrix24."
            )
        if not actor.may_write:
            log.info("write request refused: %s may not write", actor.id)
            return Proposal(
                "Записывать в Bitrix24 могут только сотрудники, которые вошли по номеру "
                "телефона, и администраторы. Отправьте /start, чтобы войти."
            )
        question = _question(command)
        if question:
            return Proposal(question)
        plan = self._plan(command, snapshot, actor, photos)
        if isinstance(plan, str):
            return Proposal(plan)
        if actor.preview_only:
            shown = preview_text(plan, self.tz) + "\n" + PREVIEW_ONLY
            return Proposal(shown, plan=plan)
        key = secrets.token_hex(8)
        await self.state.put_preview(
            key, actor.id, plan.to_json(), self.confirm_ttl_s, now=self._epoch()
        )
        await self.state.journal(actor.id, "write.preview", {"key": key, **_summary(plan)})
        return Proposal(preview_text(plan, self.tz), key=key, plan=plan)

    async def attach(self, actor: Actor, photos: Sequence[Path]) -> Proposal | None:
        """Add photos to ``actor``'s newest preview made within the photo window; None if none.

        A brigade leader sends the voice note first and the photos right after it: they belong
        to the same report. After the window, photos need their own caption.
        """
        latest = await self.state.latest_preview(actor.id, now=self._epoch())
        if latest is None:
            return None
        key, data = latest
        plan = Plan.from_json(data)
        if plan.intent not in ("house.done", "house.problem", "task.create"):
            return None
        if self._epoch() - plan.created_at > self.photo_window_s:
            return None
        merged = (*plan.photos, *(str(p) for p in photos))[:MAX_PHOTOS]
        plan = Plan.from_json({**data, "photos": list(merged)})
        if not await self.state.update_preview(key, actor.id, plan.to_json(), now=self._epoch()):
            return None
        return Proposal(preview_text(plan, self.tz), key=key, plan=plan)

    # ------------------------------------------------------------------ confirm
    async def confirm(
        self,
        key: str,
        actor: Actor,
        *,
        started: Callable[[], Awaitable[None]] | None = None,
    ) -> Outcome:
        """Write a confirmed preview exactly once; says what was created or what failed.

        ``started`` is awaited once the write is claimed, before Bitrix24 is called (Telegram
        answers the button press then: «Записываю…»).
        """
        claim = await self.state.claim_write(key, actor.id, LEASE_S, now=self._epoch())
        if claim.outcome == "missing":
            return Outcome(
                "Этого запроса уже нет (он отменён или не найден) — ничего не записано.",
                kind="missing",
            )
        if claim.outcome == "foreign":
            log.info("write %s: confirmation by %s refused (not theirs)", key, actor.id)
            return Outcome(
                "Подтвердить запись может только тот, кто её попросил.",
                final=False,
                kind="foreign",
            )
        if claim.outcome == "expired":
            await self.state.journal(actor.id, "write.expired", {"key": key})
            if claim.payload is not None:
                self._remove_photos(Plan.from_json(claim.payload))
            minutes = round(self.confirm_ttl_s / 60)
            return Outcome(
                f"Время на подтверждение истекло ({minutes} мин) — ничего не записано. "
                "Повторите запрос, если это ещё нужно.",
                kind="expired",
            )
        if claim.outcome == "busy":
            return Outcome(
                "Уже записываю этот запрос — подождите, пожалуйста.", final=False, kind="busy"
            )
        assert claim.payload is not None
        plan = Plan.from_json(claim.payload)
        if claim.outcome == "done":
            assert claim.result is not None
            return Outcome("Уже записано. " + self._done_text(plan, claim.result), kind="done")
        if started is not None:
            await started()
        retry = claim.outcome == "retry"
        try:
            written = await self._write(plan, key, check_first=retry)
        except BitrixWriteUnconfirmed as exc:
            await self.state.finish_write(
                key, "unconfirmed", {"error": exc.user_message}, now=self._epoch()
            )
            await self.state.journal(
                actor.id, "write.unconfirmed", {"key": key, "error": str(exc), **_summary(plan)}
            )
            return Outcome(
                f"{exc.user_message} Нажмите ✅ ещё раз позже — повтор не создаст дубль.",
                final=False,
                kind="unconfirmed",
            )
        except BitrixError as exc:
            await self.state.finish_write(
                key, "failed", {"error": exc.user_message}, now=self._epoch()
            )
            await self.state.journal(
                actor.id, "write.failed", {"key": key, "error": str(exc), **_summary(plan)}
            )
            log.warning("write %s (%s) failed: %s", key, plan.intent, exc)
            return Outcome(
                f"{exc.user_message} Можно нажать ✅ ещё раз — дубль не появится.",
                final=False,
                kind="failed",
            )
        except OSError as exc:
            # A photo saved with the preview is gone (disk cleaned, another machine).
            await self.state.finish_write(
                key, "failed", {"error": "photo missing"}, now=self._epoch()
            )
            await self.state.journal(
                actor.id, "write.failed", {"key": key, "error": repr(exc), **_summary(plan)}
            )
            return Outcome(
                "Не нашёл сохранённые фото этого запроса — ничего не записано.", kind="failed"
            )
        result = self._result(plan, written)
        await self.state.finish_write(key, "written", result, now=self._epoch())
        await self.state.journal(
            actor.id,
            "write.done",
            {
                **_summary(plan),
                "key": key,
                "bitrix_id": written.id,
                "object": written.kind,
                "link": result["link"],
                "recovered": written.recovered,
                "attempt": claim.attempts,
            },
        )
        log.info(
            "write %s done: %s %s id=%s recovered=%s",
            key,
            plan.intent,
            written.kind,
            written.id,
            written.recovered,
        )
        self._remove_photos(plan)
        if self.on_written is not None:
            self.on_written()
        return Outcome(self._done_text(plan, result), written=written)

    async def cancel(self, key: str, actor: Actor) -> Outcome:
        """Drop a preview (❌ / «нет»)."""
        outcome, payload = await self.state.cancel_preview(key, actor.id, now=self._epoch())
        if outcome == "foreign":
            return Outcome(
                "Отменить запись может только тот, кто её попросил.", final=False, kind="foreign"
            )
        if outcome == "done":
            return Outcome("Этот запрос уже подтверждён — отменить его здесь нельзя.", kind="done")
        if outcome == "claimed":
            await self.state.journal(actor.id, "write.cancelled", {"key": key})
        if outcome in ("claimed", "expired") and payload is not None:
            self._remove_photos(Plan.from_json(payload))
        return Outcome("Отменено — ничего не записано.", kind="cancelled")

    # ------------------------------------------------------------------ planning
    def _plan(
        self,
        command: Command,
        snapshot: CompanySnapshot,
        actor: Actor,
        photos: Sequence[Path],
    ) -> Plan | str:
        house = command.house
        person = command.person
        checks: list[str] = []
        # One guess (a misheard or shortened name: «пролет 117») is shown in the preview to
        # be checked: nothing is written unless the person confirms what they see.
        if house is None and len(command.house_options) == 1:
            house = command.house_options[0]
            checks.append("адрес")
        if person is None and len(command.person_options) == 1:
            person = command.person_options[0]
            checks.append("сотрудника")
        kind = command.kind
        if (
            kind == "task.create"
            and person is None
            and actor.employee is not None
            and _for_me(command.text)
        ):
            person = actor.employee
        if kind == "task.create" and person is None and house is not None:
            # «на Никитиной 14 жалуются, создай задачу» names no one: a problem report, for
            # the house's brigade head.
            kind = "house.problem"
        now = self.now()
        base: dict[str, Any] = {
            "intent": kind,
            "request": command.text,
            "actor_id": actor.id,
            "actor_name": actor.name,
            "photos": tuple(str(p) for p in photos[:MAX_PHOTOS]),
            "created_at": now.timestamp(),
            "checks": tuple(checks),
        }
        if house is not None:
            base["deal_id"] = int(house.id)
            base["house"] = house.title
        if kind == "house.done":
            if house is None:
                return (
                    "На каком доме закончили уборку? Назовите адрес, например: «Майская 8 убрали»."
                )
            title = f"Уборка выполнена: {house.title}"
            extra = command.summary.strip()
            if extra and extra.lower() not in title.lower():
                title += f" — {_lower_first(extra)}"
            return Plan(title=title, **base)
        if kind == "house.problem":
            if house is None:
                return (
                    "На каком доме проблема? Назовите адрес, например: «на Майской 8 сломан "
                    "домофон»."
                )
            responsible = self._problem_responsible(house, snapshot)
            if responsible is None:
                return (
                    f"У дома {house.title} не указана бригада или её бригадир, а "
                    "PROBLEM_RESPONSIBLE_ID не задан — не знаю, кому поставить задачу."
                )
            summary = command.summary or "Проблема"
            role = (
                "назначен для проблем (PROBLEM_RESPONSIBLE_ID)"
                if self.problem_responsible_id is not None
                and responsible.id == str(self.problem_responsible_id)
                else f"бригадир бригады {house.brigade}"
            )
            return Plan(
                title=f"{house.title}: {_lower_first(summary)}",
                responsible_id=int(responsible.id),
                responsible=f"{responsible.full_name} — {role}",
                deadline=_iso(command.when),
                **base,
            )
        if kind == "task.create":
            if person is None:
                return (
                    "Кому поставить задачу? Назовите сотрудника, например: «поставь задачу "
                    "Петрову проверить подвал на Ленина 5 до пятницы»."
                )
            summary = command.summary or "Задача"
            title = summary if house is None else f"{summary} ({house.title})"
            return Plan(
                title=title,
                responsible_id=int(person.id),
                responsible=person.full_name,
                deadline=_iso(command.when),
                **base,
            )
        # calendar.create
        if command.when is None:
            return (
                "Когда назначить? Скажите дату и время, например: «планёрка в понедельник в 8:30»."
            )
        begins = command.when.astimezone(self.tz)
        attendees = (int(person.id),) if person is not None else ()
        return Plan(
            title=command.summary or "Встреча",
            begins=begins.isoformat(),
            ends=(begins + EVENT_LENGTH).isoformat(),
            attendees=attendees,
            responsible=person.full_name if person is not None else "",
            **{k: v for k, v in base.items() if k not in ("photos",)},
        )

    def _problem_responsible(self, house: House, snapshot: CompanySnapshot) -> Employee | None:
        if self.problem_responsible_id is not None:
            fixed = snapshot.employees.get(str(self.problem_responsible_id))
            if fixed is not None:
                return fixed
        brigade = snapshot.brigades.get(house.brigade) if house.brigade is not None else None
        if brigade is None or brigade.head_id is None:
            return None
        return snapshot.employees.get(brigade.head_id)

    # ------------------------------------------------------------------ writing
    async def _write(self, plan: Plan, key: str, *, check_first: bool) -> Written:
        description = _description(plan, self.tz)
        if plan.intent == "house.done":
            assert plan.deal_id is not None
            files = tuple(_read_photo(path, n) for n, path in enumerate(plan.photos, 1))
            comment = CommentDraft(plan.deal_id, f"{plan.title}\n{description}", files)
            return await self.writer.write(comment, key=key, check_first=check_first)
        if plan.intent in ("house.problem", "task.create"):
            assert plan.responsible_id is not None
            file_ids: list[int] = []
            try:
                for n, path in enumerate(plan.photos, 1):
                    name, content = _read_photo(path, n)
                    upload = FileDraft(self.photo_folder_id, name, content)
                    # Each photo is its own write under a derived key: a retry finds it by name.
                    uploaded = await self.writer.write(
                        upload, key=f"{key}-p{n}", check_first=check_first
                    )
                    file_ids.append(uploaded.id)
                task = TaskDraft(
                    title=plan.title,
                    responsible_id=plan.responsible_id,
                    description=description,
                    deadline=datetime.fromisoformat(plan.deadline) if plan.deadline else None,
                    deal_id=plan.deal_id,
                    file_ids=tuple(file_ids),
                )
                return await self.writer.write(task, key=key, check_first=check_first)
            except BitrixError as exc:
                if not file_ids or NOTHING_WRITTEN not in exc.user_message:
                    raise
                # Photos went to Drive before the task failed: say so, never "nothing".
                done = f"{len(file_ids)} фото уже на Диске Bitrix24, задача не создана"
                raise exc.with_user_message(
                    exc.user_message.replace(NOTHING_WRITTEN, done)
                ) from exc
        assert plan.begins is not None and plan.ends is not None
        event = EventDraft(
            name=plan.title,
            # In TIMEZONE's zone, so Bitrix24 gets timezone_from/to and not a bare offset.
            begins=datetime.fromisoformat(plan.begins).astimezone(self.tz),
            ends=datetime.fromisoformat(plan.ends).astimezone(self.tz),
            section_id=self.calendar_section_id,
            description=description,
            attendees=plan.attendees,
        )
        return await self.writer.write(event, key=key, check_first=check_first)

    def _result(self, plan: Plan, written: Written) -> dict[str, Any]:
        return {
            "object": written.kind,
            "id": written.id,
            "link": self.link(plan, written),
            "recovered": written.recovered,
        }

    def link(self, plan: Plan, written: Written) -> str:
        """Where the created object opens in the portal (Bitrix24's own URL scheme)."""
        parts = urlsplit(self.portal_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        user = self.writer.user_id
        if written.kind == "task":
            return f"{origin}/company/personal/user/{user}/tasks/task/view/{written.id}/"
        if written.kind == "comment":
            return f"{origin}/crm/deal/details/{plan.deal_id}/"
        return f"{origin}/calendar/?EVENT_ID={written.id}"

    def _done_text(self, plan: Plan, result: dict[str, Any]) -> str:
        number = result.get("id")
        link = result.get("link", "")
        if plan.intent == "house.done":
            photos = f", фото: {len(plan.photos)}" if plan.photos else ""
            head = f"✅ Записал в карточку дома {plan.house}: комментарий №{number}{photos}."
        elif plan.intent == "calendar.create":
            when = _when_label(datetime.fromisoformat(plan.begins or ""), self.tz)
            head = f"✅ Событие №{number} «{plan.title}» создано: {when}."
        else:
            photos = f", фото: {len(plan.photos)}" if plan.photos else ""
            head = (
                f"✅ Задача №{number} «{plan.title}» создана. Ответственный: "
                f"{plan.responsible}{photos}."
            )
        return f"{head}\n{link}" if link else head

    @staticmethod
    def _remove_photos(plan: Plan) -> None:
        for path in plan.photos:
            # Written into Bitrix24 now; the local copy was only kept until then.
            Path(path).unlink(missing_ok=True)

    async def drain(self) -> None:
        """Wait for the background work started after writes (snapshot refreshes)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def refresh_soon(self, refresh: Callable[[], Any]) -> Callable[[], None]:
        """An ``on_written`` that starts ``refresh()`` (a coroutine) without waiting for it."""

        def start() -> None:
            task = asyncio.get_running_loop().create_task(refresh())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return start


# --------------------------------------------------------------------------- texts

PREVIEW_ONLY = "(Только просмотр: audiobot ask ничего не записывает — подтвердить можно в чате.)"


@functools.cache
def _confirm_words() -> dict[str, frozenset[str]]:
    doc = yaml.safe_load(
        resources.files("bot.nlu").joinpath("confirm.yaml").read_text(encoding="utf-8")
    )
    return {side: frozenset(str(w) for w in doc[side]) for side in ("confirm", "cancel", "for_me")}


def confirmation(text: str) -> bool | None:
    """«да» → True, «нет» → False, anything else → None (a new request)."""
    said = " ".join(text.lower().replace("ё", "е").strip(" .,!?").split())
    words = _confirm_words()
    if said in words["confirm"]:
        return True
    if said in words["cancel"]:
        return False
    return None


def preview_text(plan: Plan, tz: tzinfo) -> str:
    """What the person confirms: the object, its fields, where it goes, how many photos."""
    lines = [f"Записать в Bitrix24 {_OBJECT[plan.intent]}?"]
    if plan.intent == "house.done":
        lines.append(f"• Дом: {plan.house} (сделка №{plan.deal_id})")
        lines.append(f"• Комментарий: «{plan.title}»")
    elif plan.intent == "calendar.create":
        lines.append(f"• Событие: «{plan.title}»")
        if plan.begins and plan.ends:
            begins = datetime.fromisoformat(plan.begins)
            ends = datetime.fromisoformat(plan.ends).astimezone(tz)
            lines.append(f"• Когда: {_when_label(begins, tz)}–{ends:%H:%M}")
        lines.append("• Календарь: общий календарь компании")
        if plan.responsible:
            lines.append(f"• Участник: {plan.responsible}")
    else:
        lines.append(f"• Задача: «{plan.title}»")
        if plan.house:
            lines.append(f"• Дом: {plan.house} (привязка к сделке №{plan.deal_id})")
        lines.append(f"• Ответственный: {plan.responsible}")
        deadline = (
            _when_label(datetime.fromisoformat(plan.deadline), tz)
            if plan.deadline
            else "без срока"
        )
        lines.append(f"• Срок: {deadline}")
    if plan.intent != "calendar.create":
        lines.append(f"• Фото: {len(plan.photos)}" if plan.photos else "• Фото: нет")
    lines.append(f"• От кого: {plan.actor_name}")
    if plan.checks:
        lines.append(f"⚠️ Проверьте {' и '.join(plan.checks)}: распознано неточно.")
    return "\n".join(lines)


def _when_label(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{day_label(local.date())}, {local:%H:%M}"


def _description(plan: Plan, tz: tzinfo) -> str:
    said = datetime.fromtimestamp(plan.created_at, tz) if plan.created_at else None
    when = f", {said:%d.%m.%Y %H:%M}" if said else ""
    return f"Сообщил через AudioBot: {plan.actor_name}{when}.\nСказано: «{plan.request}»."


def _question(command: Command) -> str:
    """What must be asked before anything can be previewed; empty when nothing.

    Two or more candidates are asked; a single guess goes into the preview to be checked.
    """
    if len(command.house_options) > 1:
        names = " или ".join(f"«{h.title}»" for h in command.house_options[:6])
        return f"Какой дом вы имеете в виду: {names}? Повторите запрос с точным адресом."
    if len(command.person_options) > 1:
        people = command.person_options[:6]
        names = " или ".join(_person_label(p) for p in people)
        return f"Кого вы имеете в виду: {names}? Повторите запрос с именем."
    if command.unresolved:
        said = "; ".join(command.unresolved)
        return f"Не могу записать: {said}. Ничего не записано — уточните и повторите."
    return ""


def _person_label(person: Employee) -> str:
    detail = ", ".join(
        p for p in (person.position, f"бригада {person.brigade}" if person.brigade else "") if p
    )
    return f"{person.full_name} ({detail})" if detail else person.full_name


def _for_me(text: str) -> bool:
    words = set(text.lower().replace("ё", "е").split())
    return bool(words & _confirm_words()["for_me"])


def _summary(plan: Plan) -> dict[str, Any]:
    """The journal's "what": the intent, the object's title and where it goes."""
    data: dict[str, Any] = {"intent": plan.intent, "title": plan.title}
    if plan.deal_id is not None:
        data["deal_id"] = plan.deal_id
    if plan.responsible_id is not None:
        data["responsible_id"] = plan.responsible_id
    if plan.photos:
        data["photos"] = len(plan.photos)
    return data


def _read_photo(path: str, n: int) -> tuple[str, bytes]:
    suffix = Path(path).suffix or ".jpg"
    return f"photo{n}{suffix}", Path(path).read_bytes()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
