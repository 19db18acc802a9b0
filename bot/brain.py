"""The assistant: the one path from a request's text to its answer.

The terminal chat, `audiobot ask`, the Telegram bot and voice notes (after transcription) all
call `Assistant.ask`. It takes the current company snapshot from the cache (answering from a
stale one, with its age, when Bitrix24 is down), understands the request with the language
engine built for that snapshot, keeps a short context per conversation for follow-ups, and
builds the Russian answer.

The asker (``asker``: the Bitrix24 employee a Telegram user signed in as, or `audiobot ask
--as`) is optional: requests about oneself («мои задачи», «у нас в бригаде») are resolved by
`bot.selfref` around the engine, and refused politely when the asker is unknown. A brigade
member's bare «что завтра» is their brigade's day.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from pathlib import Path
from typing import Any

from bitrix.cache import CompanyCache, SnapshotUnavailable, SnapshotView
from bitrix.company import CompanySnapshot
from bitrix.models import Company, Employee, House
from bot.actions import Actions, Actor, Proposal
from bot.answers import Answer, AnswerBuilder, simple_answer, stale_note
from bot.nlu.asides import drop_asides, split_sentences
from bot.nlu.commands import Command, parse_command
from bot.nlu.engine import LanguageEngine
from bot.nlu.frame import Frame
from bot.nlu.morph import Morph, default_morph
from bot.nlu.registry import REGISTRY
from bot.nlu.simple import simple_frame
from bot.safe_text import printable
from bot.selfref import apply_asker, asking_for_link, find_self, introduces_self

#: Intents a brigade member's request without a subject («что завтра») may default to
#: (registry: role_default).
ROLE_DEFAULT_INTENTS = REGISTRY.names(role_default=True)
#: Intents answered without company data: an old snapshot changes nothing in them.
_NO_DATA = REGISTRY.names(data=False)
#: Questions about one house's own facts (the house required, nothing «мои» could narrow):
#: the same whoever asks.
HOUSE_OWN_INTENTS = frozenset(
    spec.name for spec in REGISTRY if "house" in spec.required and not spec.mine
)

log = logging.getLogger(__name__)

#: Asked once by `Assistant.warm_up` (answers dropped): a question with an aside, a question
#: about a house and one about a person's tasks take the common paths of a request.
_WARM_UP_QUESTIONS = (
    "Здравствуйте, я новый сотрудник. Сколько домов у третьей бригады? Мне для отчёта.",
    "когда уборка на майской 12",
    "какие задачи у бригадира на завтра",
)


@dataclass(frozen=True)
class Reply:
    """An answered request: what was understood, what to say, and how fresh the data is."""

    frame: Frame
    answer: Answer
    age_s: float | None = None
    stale_note: str = ""
    error: str = ""
    #: A write request's preview (SPEC §9): ``write`` is set, and ``confirm_key`` is the key
    #: ✅/«да» confirms with (empty when nothing waits: refused, asked back, or preview only).
    write: Proposal | None = None

    @property
    def text(self) -> str:
        """Exactly what the bot sends (before splitting for Telegram's 4096-character limit)."""
        parts = [self.answer.text]
        if self.stale_note:
            parts.append(self.stale_note)
        return "\n\n".join(p for p in parts if p)

    @property
    def typed_text(self) -> str:
        """``text`` for a channel without buttons: choices are answered by number or words."""
        parts = [self.answer.typed_text]
        if self.stale_note:
            parts.append(self.stale_note)
        return "\n\n".join(p for p in parts if p)

    @property
    def confirm_key(self) -> str:
        """The key of the preview waiting for ✅ (empty when none)."""
        return self.write.key if self.write is not None else ""

    def to_json(self) -> dict[str, Any]:
        """The `ask --json` object (docs/intents.md): text, intent, slots, answer, clarify,
        and ``"confirm": true`` for a write request's preview (SPEC §5, §9)."""
        data = self.frame.to_json(self.text)
        if self.write is not None and self.write.plan is not None:
            data["confirm"] = True
        return data


@dataclass
class _Conversation:
    frame: Frame
    at: float


class Assistant:
    """Answers requests from the CRM snapshot (see the module docstring)."""

    def __init__(
        self,
        cache: CompanyCache,
        *,
        tz: tzinfo,
        morph: Morph | None = None,
        actions: Actions | None = None,
        context_ttl: float = 1800.0,
        max_conversations: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self.tz = tz
        self.morph = morph or default_morph()
        self.actions = actions
        self._context_ttl = context_ttl
        self._max_conversations = max_conversations
        self._clock = clock
        self._conversations: OrderedDict[Hashable, _Conversation] = OrderedDict()
        self._engine: tuple[CompanySnapshot, LanguageEngine, AnswerBuilder] | None = None
        self._names: tuple[CompanySnapshot, list[str]] | None = None
        self._engine_lock = asyncio.Lock()

    # ------------------------------------------------------------------ engine
    async def engine(self, snapshot: CompanySnapshot) -> tuple[LanguageEngine, AnswerBuilder]:
        """The language engine and answer builder for a snapshot, built once per snapshot."""
        current = self._engine
        if current is not None and current[0] is snapshot:
            return current[1], current[2]
        async with self._engine_lock:
            current = self._engine
            if current is not None and current[0] is snapshot:
                return current[1], current[2]
            # Building takes ~0.2 s of CPU: keep the event loop free for other users.
            engine = await asyncio.to_thread(LanguageEngine, snapshot, morph=self.morph)
            builder = AnswerBuilder(snapshot, self.morph)
            self._engine = (snapshot, engine, builder)
            return engine, builder

    async def warm_up(self) -> None:
        """Load the snapshot and build the engine now, so the first user does not wait.

        A few questions are asked too and their answers dropped: the first request otherwise
        pays ~20 ms for loading cue tables, compiling templates and filling caches (all of them
        pure, so no later answer changes). Then what was made so far — dictionaries, engine,
        snapshot, living as long as the process — is frozen out of the garbage collector: a
        full collection walking it took ~0.2 s in the middle of a request.
        """
        view = await self.cache.get()
        await self.engine(view.snapshot)
        conversation = object()  # nobody else's: its context is dropped right after
        for question in _WARM_UP_QUESTIONS:
            await self.ask(question, conversation=conversation)
        self.forget(conversation)
        gc.collect()
        # Frozen objects are still freed when no longer referenced; only cycles among them
        # (at most the start's snapshot, once a newer one replaces it) are kept for good.
        gc.freeze()

    # ------------------------------------------------------------------ asking
    async def ask(
        self,
        text: str,
        *,
        conversation: Hashable = "default",
        asker: Employee | None = None,
        actor: Actor | None = None,
        photos: Sequence[Path] = (),
    ) -> Reply:
        """Understand and answer one request in a conversation, asked by ``asker`` if known.

        A write request (`bot.actions`) is answered with its preview, kept for ``actor``'s
        confirmation; without an ``actor`` it is only shown (`audiobot ask`). ``photos``
        (files already saved) go with the report.
        """
        # Whatever of the request an answer quotes must not carry bidi overrides or controls.
        text = printable(text)
        if self.cache.view() is None:
            simple = simple_frame(text)
            if simple is not None:
                # "привет" before the first load: no reason to wait for Bitrix24.
                return Reply(frame=simple, answer=simple_answer(simple))
        try:
            view = await self.cache.get()
        except SnapshotUnavailable as exc:
            return self._unavailable(text, exc)
        engine, builder = await self.engine(view.snapshot)
        if self.actions is not None:
            command = parse_command(text, engine, now=view.snapshot.now())
            if command is not None:
                return await self._write_request(command, view, actor, asker, photos)
        previous = self._previous(conversation)
        # "Today" comes from the product's one clock, which the snapshot carries.
        today = view.snapshot.today
        # «Здравствуйте, я новый менеджер. Сколько домов …? Мне для отчёта.»: who asks and
        # why are not conditions of the question (bot/nlu/asides.py).
        asked = drop_asides(text, lambda sentence: engine.named(sentence, today=today))
        ref = find_self(
            asked,
            asker,
            stand_in=min(view.snapshot.brigades, default=1),
            names=self._company_names(view.snapshot),
        )
        if ref.needs_asker and asker is None:
            plain = engine.understand(asked, today=today, previous=previous)
            named = (
                _named_subject(plain)
                or _introduced(plain, text)
                or _told(plain, asked, asker, view.snapshot)
            )
            if named is not None:
                # «где ключи на Майской 12? мне туда завтра»: the request names its own house
                # or person, and «мне» only says who will go there — answer what was named.
                frame = replace(named, text=text)
                return self._reply(frame, builder, view, today, conversation)
            frame = engine.understand(ref.text, today=today, previous=previous)
            frame = Frame(frame.intent, text=text, normalized=frame.normalized, source="self")
            return Reply(frame=frame, answer=Answer(asking_for_link(ref)), age_s=view.age_s)
        frame = engine.understand(ref.text, today=today, previous=previous)
        if ref.needs_asker and asker is not None:
            applied = apply_asker(frame, ref, asker)
            if isinstance(applied, str):
                bare = Frame(frame.intent, text=text, normalized=frame.normalized, source="self")
                return Reply(frame=bare, answer=Answer(applied), age_s=view.age_s)
            frame = applied
        elif frame.intent == "unknown" and asker is not None and asker.brigade is not None:
            # Role-aware default: a brigade member's «что завтра» is their brigade's day.
            guess = engine.understand(
                f"{ref.text} у бригады {asker.brigade}", today=today, previous=previous
            )
            if guess.intent in ROLE_DEFAULT_INTENTS and not guess.problems:
                frame = guess
        frame = replace(frame, text=text)
        return self._reply(frame, builder, view, today, conversation)

    async def choose(self, frame: Frame, *, conversation: Hashable = "default") -> Reply:
        """Answer a frame chosen from a clarifying question (a pressed button).

        The button may be pressed long after the question: its house, person or company is
        looked up again in the current snapshot, so the answer is never older than the data.
        """
        try:
            view = await self.cache.get()
        except SnapshotUnavailable as exc:
            return self._unavailable(frame.text, exc)
        _, builder = await self.engine(view.snapshot)
        current = _in_snapshot(frame, view.snapshot)
        if current is None:
            answer = Answer("Этого варианта уже нет в Bitrix24 — спросите заново, пожалуйста.")
            return Reply(frame=frame, answer=answer, age_s=view.age_s)
        return self._reply(current, builder, view, view.snapshot.today, conversation)

    async def _write_request(
        self,
        command: Command,
        view: SnapshotView,
        actor: Actor | None,
        asker: Employee | None,
        photos: Sequence[Path],
    ) -> Reply:
        assert self.actions is not None
        if actor is None:
            # `audiobot ask`: show what would be written, keep nothing.
            name = asker.full_name if asker is not None else "администратор (audiobot ask)"
            actor = Actor("ask", name, asker, may_write=True, preview_only=True)
        proposal = await self.actions.propose(command, view.snapshot, actor, photos)
        answer = Answer(proposal.text)
        note = ""
        if view.stale:
            # The preview's house and people come from an old copy; the write itself will
            # say clearly if Bitrix24 is still down.
            reason = (
                view.error.user_message if view.error is not None else "Bitrix24 был недоступен."
            )
            note = stale_note(view.fetched_at, view.age_s, self.tz, reason)
        slots: dict[str, Any] = {}
        if command.house is not None:
            slots["house"] = command.house
        if command.person is not None:
            slots["person"] = command.person
        if command.when is not None:
            slots["when"] = command.when.isoformat()
        if command.summary:
            slots["text"] = command.summary
        frame = Frame(command.kind, slots=slots, text=command.text, source="write")
        log.info(
            "write request understood: intent=%s slots=%s preview=%s",
            command.kind,
            sorted(slots),
            proposal.plan is not None,
        )
        return Reply(frame=frame, answer=answer, age_s=view.age_s, stale_note=note, write=proposal)

    def _company_names(self, snapshot: CompanySnapshot) -> list[str]:
        """`_company_names` of the snapshot, made once per snapshot (it is the same for every
        request until the data is fetched again, and a new fetch is a new snapshot)."""
        if self._names is None or self._names[0] is not snapshot:
            self._names = (snapshot, _company_names(snapshot))
        return self._names[1]

    def forget(self, conversation: Hashable) -> None:
        """Drop a conversation's context."""
        self._conversations.pop(conversation, None)

    def _reply(
        self,
        frame: Frame,
        builder: AnswerBuilder,
        view: SnapshotView,
        today: date,
        conversation: Hashable,
    ) -> Reply:
        try:
            answer = builder.build(frame, today)
        except Exception:
            # A bug must not leave the user without an answer; the operator gets the trace.
            log.exception("could not build the answer for intent %s", frame.intent)
            answer = Answer("Не получилось составить ответ — ошибка в боте, мы её исправим.")
        spec = REGISTRY.get(frame.intent)
        complete = spec is None or all(slot in frame.slots for slot in spec.required)
        if frame.clarify or (frame.intent != "unknown" and complete and not frame.problems):
            # A question can be continued ("а телефон?") or, when it asked the user to choose,
            # answered in words ("Ольга"); a frame without its house or person cannot.
            self._remember(conversation, frame)
        note = ""
        if view.stale and frame.intent not in _NO_DATA:
            reason = (
                view.error.user_message
                if view.error is not None
                else "Bitrix24 был недоступен при запуске."
            )
            note = stale_note(view.fetched_at, view.age_s, self.tz, reason)
        log.info(
            "request understood: intent=%s source=%s slots=%s clarify=%s",
            frame.intent,
            frame.source,
            sorted(frame.slots),
            frame.clarify,
        )
        return Reply(frame=frame, answer=answer, age_s=view.age_s, stale_note=note)

    def _unavailable(self, text: str, exc: SnapshotUnavailable) -> Reply:
        cause = exc.cause
        # Help and greetings need no company data: answer them even now.
        simple = simple_frame(text)
        if simple is not None:
            answer = simple_answer(simple)
            note = f"⚠️ {cause.user_message} Вопросы о данных пока не отвечу."
            return Reply(frame=simple, answer=answer, stale_note=note, error=str(cause))
        log.warning("no company data to answer from: %s", cause)
        message = f"{cause.user_message} Сохранённых данных нет, поэтому ответить не могу."
        return Reply(
            frame=Frame("unknown", text=text, source="none"),
            answer=Answer(message),
            error=str(cause),
        )

    # ------------------------------------------------------------------ context
    def _previous(self, conversation: Hashable) -> Frame | None:
        entry = self._conversations.get(conversation)
        if entry is None:
            return None
        if self._clock() - entry.at > self._context_ttl:
            self._conversations.pop(conversation, None)
            return None
        return entry.frame

    def _remember(self, conversation: Hashable, frame: Frame) -> None:
        self._conversations[conversation] = _Conversation(frame, self._clock())
        self._conversations.move_to_end(conversation)
        while len(self._conversations) > self._max_conversations:
            self._conversations.popitem(last=False)


def _named_subject(frame: Frame) -> Frame | None:
    """``frame`` when it asks about one named house's own facts, which no self word changes.

    Nothing else: «мои задачи по Майской 8» are not every task of the house, and «мои дома у
    Коновалова» may not be his brigade's — answering those would answer a broader question.
    """
    if frame.clarify or frame.problems or frame.intent not in HOUSE_OWN_INTENTS:
        return None
    return frame if isinstance(frame.slots.get("house"), House) else None


def _introduced(frame: Frame, text: str) -> Frame | None:
    """``frame`` when the asker says who they are and the request names that brigade or
    person («что мне завтра убирать, если я в пятой бригаде», «мои мероприятия? Я
    Коновалов»): their own words stand in for signing in. Nothing vaguer is answered."""
    if frame.clarify or frame.problems or frame.intent in ("unknown", "help", "greeting"):
        return None
    if not introduces_self(text):
        return None
    named = isinstance(frame.slots.get("person"), Employee) or isinstance(
        frame.slots.get("brigade"), int
    )
    return frame if named else None


#: Slots that name what a question is about (a filter or an entity), not how it is asked.
_NAMING_SLOTS = frozenset(
    {"house", "person", "brigade", "company", "street", "town", "house_type", "position",
     "department", "floors", "apartments", "entrances", "lifts", "no_company"}
)  # fmt: skip


def _told(
    frame: Frame, text: str, asker: Employee | None, snapshot: CompanySnapshot
) -> Frame | None:
    """``frame`` when the self words are only in a statement beside the question and the
    frame names its own subject: «Мне дали участок, говорят, это дома УК «Надёжный дом».
    Какие это адреса?», «Ко мне подошла Селиверстова Вера… Подскажете?» — «мне» tells the
    story, the question does not depend on who asks. A question with «мне»/«мои» in it («Мне
    дали участок. Какие у меня дома?») still needs the asker."""
    if frame.clarify or frame.intent in ("unknown", "help", "greeting"):
        return None
    parts = split_sentences(text)
    questions = [s for s in parts if s.endswith("?")]
    if not questions or len(questions) == len(parts):
        return None
    names = _company_names(snapshot)
    if any(find_self(q, asker, names=names).needs_asker for q in questions):
        return None
    if frame.problems or any(frame.slots.get(k) is not None for k in _NAMING_SLOTS):
        return frame
    return None


def _company_names(snapshot: CompanySnapshot) -> list[str]:
    """Management companies' names, whole and inside their quotes («Мой дом»)."""
    names = []
    for company in snapshot.companies.values():
        names.append(company.name)
        names.extend(re.findall(r"«([^»]+)»", company.name))
    return names


def _in_snapshot(frame: Frame, snapshot: CompanySnapshot) -> Frame | None:
    """The frame with its entities replaced by the current snapshot's; None if one is gone."""
    slots = dict(frame.slots)
    for name, value in frame.slots.items():
        if isinstance(value, House):
            current: object = snapshot.houses_by_id.get(value.id)
        elif isinstance(value, Employee):
            current = snapshot.employees.get(value.id)
        elif isinstance(value, Company):
            current = snapshot.companies.get(value.id)
        else:
            continue
        if current is None:
            return None
        slots[name] = current
    return replace(frame, slots=slots)
