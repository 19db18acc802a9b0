"""Who is speaking: Telegram users signed in as Bitrix24 employees (docs/telegram-setup.md, 2a).

A Telegram user shares their own phone number once; `Identities.link_by_phone` matches it
against the active employees' phone fields in the current snapshot and keeps the link in the
state store. From then on `Identities.check` says, per update, whether the link still stands:
access follows Bitrix24, so an employee deactivated (``ACTIVE=false``) or removed there has no
access once the snapshot is refreshed — the link is dropped and the caller tells them once
(`Identities.sweep` does this for everyone right after a refresh; `check` catches an update
that arrives before the sweep).

Links are read from the store once (`Identities.load`, at startup) and kept in memory, and
every change goes through this class to the store first and then to memory: `check` runs for
every update *before* the per-chat sequencer, and must not suspend there (a thread hop to the
database would let two quick messages of one chat overtake each other).

Phone numbers are never logged; log lines name Telegram and Bitrix24 ids only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from bitrix.cache import CompanyCache
from bitrix.company import CompanySnapshot
from bitrix.models import Employee
from bitrix.phones import normalize_phone
from bot.state import StateStore

__all__ = ["Identities", "LinkOutcome", "LinkResult", "LinkState", "find_employee"]

log = logging.getLogger(__name__)


class LinkOutcome(Enum):
    """How a sign-in by phone ended."""

    LINKED = "linked"
    NO_MATCH = "no_match"
    SEVERAL = "several"
    UNAVAILABLE = "unavailable"  # no company data to match against (Bitrix24 down at start)


@dataclass(frozen=True)
class LinkResult:
    """The outcome of a sign-in, and the employee when linked."""

    outcome: LinkOutcome
    employee: Employee | None = None
    matches: int = 0


class LinkState(Enum):
    """What the state store and the current snapshot say about a Telegram user."""

    NONE = "none"  # never signed in (or signed out)
    ACTIVE = "active"  # linked to an active employee
    UNVERIFIED = "unverified"  # linked, but no company data yet to check the employee
    REVOKED = "revoked"  # linked to someone deactivated or removed: the link was just dropped


@dataclass(frozen=True)
class Check:
    """`Identities.check`'s answer."""

    state: LinkState
    employee: Employee | None = None


class Identities:
    """Links between Telegram users and employees (see the module docstring)."""

    def __init__(self, state: StateStore, cache: CompanyCache) -> None:
        self.state = state
        self.cache = cache
        self._links: dict[int, str] | None = None

    async def load(self) -> None:
        """Read every link from the store into memory (once, before updates are handled)."""
        self._links = {link.telegram_id: link.employee_id for link in await self.state.links()}

    async def _all(self) -> dict[int, str]:
        if self._links is None:
            await self.load()
        assert self._links is not None
        return self._links

    async def linked_ids(self) -> dict[int, str]:
        """Telegram id → employee id for every link."""
        return dict(await self._all())

    def _snapshot(self) -> CompanySnapshot | None:
        view = self.cache.view()
        return view.snapshot if view is not None else None

    async def check(self, telegram_id: int) -> Check:
        """The user's link as it stands now; a link to someone no longer active is dropped."""
        links = self._links if self._links is not None else await self._all()
        employee_id = links.get(telegram_id)
        if employee_id is None:
            return Check(LinkState.NONE)
        snapshot = self._snapshot()
        if snapshot is None:
            return Check(LinkState.UNVERIFIED)
        employee = snapshot.employees.get(employee_id)
        if employee is not None:
            return Check(LinkState.ACTIVE, employee)
        await self._revoke(links, telegram_id, employee_id)
        return Check(LinkState.REVOKED, snapshot.person(employee_id))

    async def _revoke(self, links: dict[int, str], telegram_id: int, employee_id: str) -> None:
        """Unlink someone Bitrix24 no longer lists as active, in memory and in the store."""
        del links[telegram_id]
        await self.state.unlink(telegram_id)
        log.warning(
            "access ended: Telegram user %s was linked to employee %s, who is no longer "
            "active in Bitrix24",
            telegram_id,
            employee_id,
        )

    async def sweep(self, snapshot: CompanySnapshot) -> list[tuple[int, Employee | None]]:
        """Drop every link to someone not active in ``snapshot``; returns who lost access.

        Run after each refresh, so people are told when Bitrix24 ends their access, not only
        the next time they write.
        """
        links = await self._all()
        gone = [(t, e) for t, e in links.items() if e not in snapshot.employees]
        ended: list[tuple[int, Employee | None]] = []
        for telegram_id, employee_id in gone:
            if links.get(telegram_id) != employee_id:
                continue  # re-linked meanwhile
            await self._revoke(links, telegram_id, employee_id)
            ended.append((telegram_id, snapshot.person(employee_id)))
        return ended

    async def asker(self, telegram_id: int) -> Employee | None:
        """The active employee the user is signed in as, if any."""
        return (await self.check(telegram_id)).employee

    async def link_by_phone(self, telegram_id: int, phone: str) -> LinkResult:
        """Link the user to the one active employee with this number."""
        try:
            view = await self.cache.get()
        except Exception as error:  # any failure to load: say so, link nothing
            log.warning("sign-in of Telegram user %s: no company data (%s)", telegram_id, error)
            return LinkResult(LinkOutcome.UNAVAILABLE)
        if normalize_phone(phone) is None:
            log.info("sign-in of Telegram user %s: the shared number is not a phone", telegram_id)
            return LinkResult(LinkOutcome.NO_MATCH)
        found = view.snapshot.people_with_phone(phone)
        if len(found) > 1:
            log.warning(
                "sign-in of Telegram user %s: the number matches %d employees (%s)",
                telegram_id,
                len(found),
                ", ".join(e.id for e in found),
            )
            return LinkResult(LinkOutcome.SEVERAL, matches=len(found))
        if not found:
            log.warning(
                "sign-in of Telegram user %s: no active employee has the number", telegram_id
            )
            return LinkResult(LinkOutcome.NO_MATCH)
        employee = found[0]
        await self.state.link(telegram_id, employee.id)
        (await self._all())[telegram_id] = employee.id
        log.info("sign-in: Telegram user %s linked to employee %s", telegram_id, employee.id)
        return LinkResult(LinkOutcome.LINKED, employee, 1)

    async def forget(self, telegram_id: int) -> bool:
        """Sign the user out; False if they were not signed in."""
        (await self._all()).pop(telegram_id, None)
        removed = await self.state.unlink(telegram_id)
        if removed:
            log.info("sign-out: Telegram user %s unlinked (/forget)", telegram_id)
        return removed


def find_employee(snapshot: CompanySnapshot, who: str) -> list[Employee]:
    """Active employees matching ``who``: a Bitrix24 user id, or a surname (any case, ё = е).

    A surname may be followed by the first name («Петров Дмитрий») to pick among namesakes.
    """
    who = who.strip()
    if who.isdigit():
        person = snapshot.employees.get(who)
        return [person] if person is not None else []
    words = who.lower().replace("ё", "е").split()
    if not words:
        return []

    def key(text: str) -> str:
        return text.lower().replace("ё", "е")

    found = [e for e in snapshot.employees.values() if key(e.last_name) == words[0]]
    if len(words) > 1:
        found = [e for e in found if key(e.first_name).startswith(words[1])]
    return sorted(found, key=lambda e: (e.full_name, e.id))
