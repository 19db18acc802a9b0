"""The company's world as typed models, built from raw Bitrix24 records by `bitrix.company`.

Nothing here knows field codes or category ids: the loader maps those (see `bitrix.mapping`)
and fills these models; everything downstream (the language engine, the answers, the HTTP API)
speaks only in these terms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from bitrix.address import Address


class CleaningKind(StrEnum):
    """The cleaning types the business uses."""

    WET_ALL = "wet_all"  # «Влажная уборка лестничных площадок всех этажей»
    SWEEP = "sweep"  # «Подметание лестничных площадок и маршей всех этажей»
    WET_FIRST_FLOOR = "wet_first_floor"  # «Влажная уборка 1 этажа»
    OTHER = "other"  # any option the business added later


#: How the business names a month's periodicity.
PERIODICITY_NONE = "не указана"
PERIODICITY_INDIVIDUAL = "индивидуальная"


@dataclass(frozen=True, slots=True)
class Visit:
    """One planned cleaning of a house on a day."""

    day: date
    kind: CleaningKind
    label: str  # the enumeration option's text as the CRM shows it


def periodicity(visits: list[Visit] | tuple[Visit, ...]) -> str:
    """Summarise one month's visits the way the business does.

    "2 раза" / "4 раза" (wet cleaning of all floors), "2 раза + подметания",
    "2 раза + 1 этажи", otherwise "индивидуальная"; no visits: "не указана".
    """
    if not visits:
        return PERIODICITY_NONE
    kinds = Counter(v.kind for v in visits)
    wet, sweep, first = (
        kinds[CleaningKind.WET_ALL],
        kinds[CleaningKind.SWEEP],
        kinds[CleaningKind.WET_FIRST_FLOOR],
    )
    other = kinds[CleaningKind.OTHER]
    if other == 0 and wet in (2, 4) and sweep == 0 and first == 0:
        return f"{wet} раза"
    if other == 0 and wet == 2 and sweep > 0 and first == 0:
        return "2 раза + подметания"
    if other == 0 and wet == 2 and first > 0 and sweep == 0:
        return "2 раза + 1 этажи"
    return PERIODICITY_INDIVIDUAL


@dataclass(frozen=True, slots=True)
class Company:
    """A management company («УК»): a CRM company linked from house deals."""

    id: str
    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class Employee:
    """A person working for the company (a portal user that is not a service account)."""

    id: str
    last_name: str
    first_name: str
    second_name: str
    position: str
    department_ids: tuple[str, ...]
    brigade: int | None
    phone: str | None
    email: str | None
    active: bool
    #: Every number in PERSONAL_MOBILE, WORK_PHONE and PERSONAL_PHONE, normalised
    #: (`bitrix.phones`): what sign-in by phone matches against.
    phones: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        """ "Фамилия Имя Отчество" (as far as known)."""
        return " ".join(p for p in (self.last_name, self.first_name, self.second_name) if p)

    @property
    def short_name(self) -> str:
        """ "Фамилия Имя"."""
        return " ".join(p for p in (self.last_name, self.first_name) if p)


@dataclass(frozen=True, slots=True)
class Department:
    """A department of the portal's structure, with its head and size."""

    id: str
    name: str
    parent_id: str | None
    head_id: str | None
    brigade: int | None
    size: int  # active people whose department this is


@dataclass(frozen=True, slots=True)
class Brigade:
    """A brigade: the people of one brigade department and the houses assigned to it."""

    number: int
    name: str
    department_id: str | None
    head_id: str | None
    member_ids: tuple[str, ...]
    house_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class House:
    """A serviced house: an active deal of the houses pipeline."""

    id: str
    address: Address
    full_address: str | None
    coordinates: tuple[float, float] | None
    brigade: int | None
    company_id: str | None
    apartments: int | None
    entrances: int | None
    floors: int | None
    visits: tuple[Visit, ...] = field(default=())
    house_type: str | None = None  # «Панельный», as the CRM option reads
    lifts: int | None = None
    intercom: str | None = None  # the intercom code
    note: str | None = None  # «Комментарий для бригады»
    closed: bool = False  # a lost-stage deal: the contract has ended

    @property
    def title(self) -> str:
        """The deal title: the address as people say it."""
        return self.address.title

    def visits_in(self, year: int, month: int) -> tuple[Visit, ...]:
        """Visits planned in a calendar month, in date order."""
        return tuple(v for v in self.visits if v.day.year == year and v.day.month == month)

    def periodicity(self, year: int, month: int) -> str:
        """The month's periodicity as the business names it."""
        return periodicity(self.visits_in(year, month))


class TaskStatus(StrEnum):
    """Bitrix24 task statuses (reference §3: 2 waiting … 6 postponed)."""

    NEW = "1"
    PENDING = "2"
    IN_PROGRESS = "3"
    SUPPOSEDLY_COMPLETED = "4"
    COMPLETED = "5"
    DEFERRED = "6"
    DECLINED = "7"


TASK_STATUS_LABELS = {
    TaskStatus.NEW: "новая",
    TaskStatus.PENDING: "ждёт выполнения",
    TaskStatus.IN_PROGRESS: "выполняется",
    TaskStatus.SUPPOSEDLY_COMPLETED: "ждёт контроля",
    TaskStatus.COMPLETED: "завершена",
    TaskStatus.DEFERRED: "отложена",
    TaskStatus.DECLINED: "отклонена",
}


@dataclass(frozen=True, slots=True)
class Task:
    """A Bitrix24 task, with the houses it is linked to (``UF_CRM_TASK`` "D_<id>")."""

    id: str
    title: str
    status: str
    deadline: datetime | None
    created: datetime | None
    closed: datetime | None
    responsible_id: str | None
    house_ids: tuple[str, ...]

    @property
    def done(self) -> bool:
        """Completed (or declined): no longer work to do."""
        return self.status in (TaskStatus.COMPLETED, TaskStatus.DECLINED)

    @property
    def status_label(self) -> str:
        """The status in Russian."""
        try:
            return TASK_STATUS_LABELS[TaskStatus(self.status)]
        except ValueError:
            return f"статус {self.status}"

    def overdue(self, now: datetime) -> bool:
        """Past its deadline and not done."""
        return not self.done and self.deadline is not None and self.deadline < now


@dataclass(frozen=True, slots=True)
class Event:
    """A company calendar event."""

    id: str
    name: str
    start: datetime
    end: datetime
    all_day: bool
    location: str
    description: str
    #: Who takes part: the attendees of a meeting and its author (user ids).
    people: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many houses have a field filled."""

    field: str
    filled: int
    total: int
    #: Cells that held something implausible ('1e9', 'nan', a negative) and were read as
    #: unknown; they are not in ``filled``.
    invalid: int = 0

    @property
    def percent(self) -> float:
        """Share of houses with the field filled, 0–100."""
        return 100.0 * self.filled / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a set of houses and the people who serve them."""

    houses: int
    apartments: int
    entrances: int
    floors: int
    people: int


@dataclass(frozen=True, slots=True)
class Statistics:
    """Company statistics: totals, per brigade, and field coverage."""

    totals: Totals
    per_brigade: dict[int, Totals]
    coverage: tuple[Coverage, ...]
    houses_without_brigade: int
    houses_without_company: int
    brigades: int
    companies: int
    employees: int
