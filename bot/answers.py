"""Russian answers built only from the CRM snapshot: the number first, then the list.

Every answer is an `Answer`: a header, list lines, a footer and (for clarifying questions)
choices. The terminal chat prints ``answer.text``; the Telegram bot sends the same text,
splitting it under 4096 characters or paging long lists with buttons. Plural agreement comes
from pymorphy3 ("1 дом", "3 дома", "5 домов"); addresses are sorted naturally by the snapshot.
Nothing here invents data: a missing field is said to be missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from bitrix.company import CompanySnapshot
from bitrix.mapping import MONTHS_NOMINATIVE
from bitrix.models import Company, Department, Employee, House, Task, TaskStatus, Visit
from bot.nlu.catalog import StreetEntry
from bot.nlu.dates import DateRange
from bot.nlu.frame import BOUNDS, HOUSE_FILTERS, Choice, Frame, Problem
from bot.nlu.morph import Morph
from bot.nlu.registry import REGISTRY

MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
MONTHS_PREPOSITIONAL = (
    "январе", "феврале", "марте", "апреле", "мае", "июне",
    "июле", "августе", "сентябре", "октябре", "ноябре", "декабре",
)  # fmt: skip
BOUND_NOUNS = {
    "floors": "этажей",
    "apartments": "квартир",
    "entrances": "подъездов",
    "lifts": "лифтов",
}
#: house.info `field` → (what it is, what to say when the CRM has nothing).
HOUSE_FIELD_LINES = {
    "intercom": ("код домофона", "код домофона не указан"),
    "note": ("комментарий для бригады", "комментария для бригады нет (ключи, доступ не указаны)"),
    "house_type": ("тип дома", "тип дома не указан"),
    "lifts": ("лифтов", "число лифтов не указано"),
}
#: What a card holds, by whose card it is (a field asked that is not there is answered so).
FIELDS_KNOWN = {
    "дома": "адрес, бригада и бригадир, УК и её телефон, квартиры, подъезды, этажи, лифты, "
    "тип дома, код домофона, комментарий для бригады, график уборки",
    "сотрудника": "должность, подразделение, бригада, телефон, почта",
    "УК": "телефон, почта, адрес, её дома",
}
#: What an unapplied part of a request was, in words.
UNAPPLIED_KINDS = {
    "person": "сотрудник",
    "brigade": "бригада",
    "house": "дом",
    "street": "улица",
    "town": "город",
    "company": "управляющая компания",
    "house_type": "тип дома",
    "floors": "этажность",
    "apartments": "число квартир",
    "entrances": "число подъездов",
    "lifts": "число лифтов",
    "date": "дата",
    "position": "должность",
    "department": "подразделение",
    "text": "слово из названий задач и событий",
    "number": "число",
}
WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
METRIC_NOUNS = {
    "houses": "дом",
    "apartments": "квартира",
    "entrances": "подъезд",
    "floors": "этаж",
    "lifts": "лифт",
    "employees": "человек",
    "brigades": "бригада",
    "companies": "управляющая компания",
}
#: What to say when an intent's required slot (`registry.yaml`: required) is missing.
MISSING_SLOT = {
    "house": "Не понял, о каком доме речь. Назовите улицу и номер: «Пролетарская 112/1».",
    "person": "Не понял, о ком речь. Назовите фамилию: «телефон Петрова».",
}
#: The example questions of /help (and, the first four, of «не понял»): `registry.yaml`.
EXAMPLES = REGISTRY.help_examples


#: The last line of a clarifying question: Telegram shows the choices as buttons...
CLARIFY_FOOTER = "Выберите вариант кнопкой или уточните запрос."
#: ...a terminal has none: the chat takes the choice's number (or a clearer request).
CLARIFY_FOOTER_TYPED = "Ответьте номером варианта или уточните запрос словами."


@dataclass(frozen=True)
class Answer:
    """What the bot says: ``text`` is the whole answer; ``items`` are its pageable lines."""

    header: str
    items: tuple[str, ...] = ()
    footer: str = ""
    choices: tuple[Choice, ...] = field(default=())

    @property
    def text(self) -> str:
        """The full answer as one message text."""
        parts = [self.header]
        if self.items:
            parts.append("\n".join(self.items))
        if self.footer:
            parts.append(self.footer)
        return "\n".join(p for p in parts if p)

    @property
    def typed_text(self) -> str:
        """``text`` for a channel without buttons (the terminal chat)."""
        if self.choices and self.footer == CLARIFY_FOOTER:
            return replace(self, footer=CLARIFY_FOOTER_TYPED).text
        return self.text


def number(n: int) -> str:
    """Digits grouped by thousands with a space: 44802 → "44 802"."""
    return f"{n:,}".replace(",", "\u00a0")


def day_label(day: date, today: date | None = None) -> str:
    """ "26 ноября (чт)", with "сегодня"/"завтра" in front when it is."""
    text = f"{day.day} {MONTHS_GENITIVE[day.month - 1]} ({WEEKDAYS[day.weekday()]})"
    if today is not None:
        if day == today:
            return f"сегодня, {text}"
        if day == today + timedelta(days=1):
            return f"завтра, {text}"
        if day == today - timedelta(days=1):
            return f"вчера, {text}"
    return text


def range_label(period: DateRange, today: date) -> str:
    """A date range in words: one day, a week, a month, or "с … по …"."""
    if period.start == period.end:
        return day_label(period.start, today)
    monday = today - timedelta(days=today.weekday())
    if period.start == monday and period.end == monday + timedelta(days=6):
        return "эту неделю"
    if period.start == monday + timedelta(days=7) and period.end == monday + timedelta(days=13):
        return "следующую неделю"
    first = period.start.replace(day=1)
    if (
        period.start == first
        and (period.end + timedelta(days=1)).day == 1
        and (period.start.month == period.end.month)
    ):
        return f"{MONTHS_NOMINATIVE[period.start.month - 1]} {period.start.year}"
    return f"период с {day_label(period.start)} по {day_label(period.end)}"


def age_label(seconds: float) -> str:
    """ "12 мин назад", "3 ч назад", "2 дн. назад"."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "только что"
    if minutes < 60:
        return f"{minutes} мин назад"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} ч назад"
    return f"{hours // 24} дн. назад"


def stale_note(fetched_at: datetime, age_s: float, tz: tzinfo, reason: str) -> str:
    """The line that says the data is old and why."""
    stamp = fetched_at.astimezone(tz).strftime("%d.%m %H:%M")
    return f"⚠️ {reason} Данные от {stamp} ({age_label(age_s)})."


class AnswerBuilder:
    """Turns frames into answers over one snapshot."""

    def __init__(self, snapshot: CompanySnapshot, morph: Morph) -> None:
        self.snap = snapshot
        self.morph = morph

    def agree(self, n: int, noun: str) -> str:
        """ "5 домов" with the number grouped."""
        return f"{number(n)} {self.morph.plural(n, noun)}"

    def of_count(self, n: int, noun: str) -> str:
        """The genitive after "из": "из 21 дома", "из 490 домов"."""
        singular = n % 10 == 1 and n % 100 != 11
        parse = self.morph.parse(noun)[0]
        form = parse.inflect({"gent", "sing" if singular else "plur"})
        return f"{number(n)} {form.word if form else noun}"

    # ------------------------------------------------------------------ dispatch
    def build(self, frame: Frame, today: date) -> Answer:
        """The answer to an understood request."""
        if frame.clarify:
            return Answer(
                header=frame.question or "Уточните, пожалуйста:",
                items=tuple(f"{i}. {c.label}" for i, c in enumerate(frame.choices, 1)),
                footer=CLARIFY_FOOTER,
                choices=frame.choices,
            )
        brigade = frame.slots.get("brigade")
        if isinstance(brigade, int) and brigade not in self.snap.brigades:
            return Answer(self._no_brigade(brigade))
        problem = self._problem_text(frame.problems)
        spec = REGISTRY.get(frame.intent)
        if spec is None or frame.intent == "unknown":
            return self._unknown(frame, today)
        missing = [slot for slot in spec.required if slot not in frame.slots]
        if missing:
            return Answer(problem or MISSING_SLOT[missing[0]])
        handler = getattr(self, spec.renderer)
        if frame.problems:
            # Rule 1: a part of the request that names nothing real, or that this answer cannot
            # apply, is said — and no data is given for the broader question.
            return Answer(problem)
        answer: Answer = handler(frame, today)
        if problem:
            answer = Answer(
                header=problem + "\n" + answer.header,
                items=answer.items,
                footer=answer.footer,
                choices=answer.choices,
            )
        return answer

    def _no_brigade(self, number_: int) -> str:
        numbers = sorted(self.snap.brigades)
        total = len(numbers)
        listing = ", ".join(str(n) for n in numbers)
        return f"Бригады {number_} нет — бригад всего {total}" + (
            f" ({listing})." if listing != ", ".join(str(i) for i in range(1, total + 1)) else "."
        )

    def _problem_text(self, problems: Sequence[Problem]) -> str:
        lines = []
        for problem in problems:
            if problem.kind == "house" and problem.reason == "closed":
                hint = (
                    " Ближайшие обслуживаемые: " + ", ".join(problem.near) + "."
                    if problem.near
                    else ""
                )
                lines.append(
                    f"Дом {problem.said} есть в Bitrix24, но договор закрыт — мы его больше не "
                    f"обслуживаем.{hint}"
                )
            elif problem.kind == "house":
                hint = " Есть дома: " + "; ".join(problem.near) + "." if problem.near else ""
                lines.append(f"Дома «{problem.said}» нет в базе.{hint}")
            elif problem.kind == "street":
                lines.append(f"Улицы «{problem.said}» нет среди адресов.")
            elif problem.kind == "company":
                hint = f" Похожие: {', '.join(problem.near)}." if problem.near else ""
                lines.append(f"УК «{problem.said}» не нашёл в базе.{hint}")
            elif problem.kind == "person" and problem.reason == "other_name":
                lines.append(
                    f"Сотрудника «{problem.said}» нет в базе. С этой фамилией есть: "
                    f"{', '.join(problem.near)}."
                )
            elif problem.kind == "person" and problem.near:
                names = ", ".join(problem.near)
                lines.append(f"{names} больше не работает в компании — данные не показываю.")
            elif problem.kind == "person":
                lines.append(f"Сотрудника «{problem.said}» нет в базе.")
            elif problem.kind == "date":
                lines.append(f"Такой даты нет: «{problem.said}».")
            elif problem.kind == "house_type":
                kinds = ", ".join(problem.near) or "тип не заполнен ни у одного дома"
                lines.append(f"Домов типа «{problem.said}» в базе нет (есть: {kinds}).")
            elif problem.kind == "name":
                hint = f" Похожие: {', '.join(problem.near)}." if problem.near else ""
                lines.append(
                    f"Не нашёл «{problem.said}» ни среди сотрудников, ни среди улиц и УК — "
                    f"не понял, что это значит.{hint}"
                )
            elif problem.kind == "feature":
                lines.append(
                    f"Признака «{problem.said}» у домов в Bitrix24 нет — посчитать или "
                    "отобрать по нему не могу, а всех домов вы не спрашивали."
                )
            elif problem.kind == "complex":
                lines.append(
                    f"«{problem.said}» среди домов на обслуживании не нашёл: в Bitrix24 дома "
                    "записаны по улице и номеру — назовите адрес."
                )
            elif problem.kind == "field":
                known = FIELDS_KNOWN.get(problem.reason, "")
                lines.append(
                    f"«{problem.said}» у {problem.reason} в Bitrix24 не хранится — ответить не "
                    "могу." + (f" Есть: {known}." if known else "")
                )
            elif problem.kind == "unapplied":
                lines.append(self._unapplied_text(problem))
        return "\n".join(lines)

    def _unapplied_text(self, problem: Problem) -> str:
        if problem.reason == "metric":
            return (
                f"Посчитаю только одно за раз: «{problem.said}» спросите отдельным вопросом — "
                "иначе часть вопроса осталась бы без ответа."
            )
        if problem.reason == "negation":
            return (
                f"Исключать («{problem.said}») не умею — а ответ про всех или про то, что вы "
                "исключили, был бы не тем, что вы спросили. Спросите прямо о нужном, например: "
                "«дома бригады 3», «сколько домов в Калуге»."
            )
        what = UNAPPLIED_KINDS.get(problem.reason, "это уточнение")
        return (
            f"Не могу применить «{problem.said}» ({what}) к такому вопросу — отвечать без "
            "этого уточнения не буду, чтобы не дать неверные данные. Переформулируйте, "
            "например: «дома бригады 3», «сколько домов в Кондрово»."
        )

    # ------------------------------------------------------------------ filters
    def _brigade_label(self, number_: int) -> str:
        """ "Бригада 4 (бригадир Коновалов)"."""
        brigade = self.snap.brigades.get(number_)
        head = self.snap.person(brigade.head_id) if brigade else None
        return f"Бригада {number_}" + (f" (бригадир {head.last_name})" if head else "")

    def _filter_label(self, frame: Frame) -> str:
        """The set a house answer counted or listed, in words (rule 2)."""
        parts = []
        person = frame.slots.get("person")
        brigade = frame.slots.get("brigade")
        if isinstance(person, Employee) and person.brigade is not None:
            label = self._brigade_label(person.brigade)
            head = self.snap.brigades.get(person.brigade)
            if head is None or head.head_id != person.id:
                label += f", где работает {person.short_name}"
            parts.append(label)
        elif isinstance(brigade, int):
            # A brigade asked by number is named by its number: "Бригада 3: 92 дома".
            parts.append(f"Бригада {brigade}")
        company = frame.slots.get("company")
        if isinstance(company, Company):
            parts.append(company.name)
        if frame.slots.get("no_company"):
            parts.append("без УК")
        street = frame.slots.get("street")
        if isinstance(street, StreetEntry):
            parts.append(f"улица {street.label}")
        town = frame.slots.get("town")
        if isinstance(town, str) and not isinstance(street, StreetEntry):
            parts.append(town)
        house_type = frame.slots.get("house_type")
        if isinstance(house_type, str):
            parts.append(f"тип дома «{house_type}»")
        for name in BOUNDS:
            bound = frame.slots.get(name)
            if bound == (None, 0):
                parts.append(f"без {self.morph.plural(0, METRIC_NOUNS[name])}")  # «без лифтов»
            elif isinstance(bound, tuple):
                parts.append(f"{BOUND_NOUNS[name]} {_bound_text(bound)}")
        return ", ".join(parts)

    def _houses_for(self, frame: Frame) -> list[House]:
        street = frame.slots.get("street")
        company = frame.slots.get("company")
        person = frame.slots.get("person")
        brigade = frame.slots.get("brigade")
        if isinstance(person, Employee):
            brigade = person.brigade
        bounds = {n: frame.slots[n] for n in BOUNDS if isinstance(frame.slots.get(n), tuple)}
        return self.snap.houses_where(
            brigade=brigade if isinstance(brigade, int) else None,
            company_id=company.id if isinstance(company, Company) else None,
            no_company=bool(frame.slots.get("no_company")),
            street=street.key if isinstance(street, StreetEntry) else None,
            town=frame.slots.get("town") if isinstance(frame.slots.get("town"), str) else None,
            house_type=frame.slots.get("house_type"),
            bounds=bounds,
        )

    def _unknown_bounds(self, frame: Frame) -> str:
        """«сколько домов без лифта»: houses whose bounded field is empty are in neither set;
        say how many, so that «0 домов» is not read as «no house lacks one» (rule 4)."""
        notes = []
        for name in BOUNDS:
            if not isinstance(frame.slots.get(name), tuple):
                continue
            unbounded = frame.with_slots(**{name: None})
            missing = sum(1 for h in self._houses_for(unbounded) if getattr(h, name) is None)
            if missing:
                noun = self.morph.plural(0, METRIC_NOUNS[name])
                notes.append(
                    f"Число {noun} не указано у {self.of_count(missing, 'дом')} — они не учтены."
                )
        return " ".join(notes)

    def _filter_problem(self, frame: Frame) -> str:
        """A filter that cannot select houses: a person outside every brigade."""
        person = frame.slots.get("person")
        if isinstance(person, Employee) and person.brigade is None:
            return (
                f"{person.full_name} не состоит ни в одной бригаде — домов за ним(ней) не "
                "закреплено."
            )
        return ""

    # ------------------------------------------------------------------ intents
    def _houses_list(self, frame: Frame, today: date) -> Answer:
        refused = self._filter_problem(frame)
        if refused:
            return Answer(refused)
        houses = self._houses_for(frame)
        label = self._filter_label(frame)
        unknown = self._unknown_bounds(frame)
        if not houses:
            text = f"Домов не найдено ({label})." if label else "Домов в базе нет."
            return Answer(f"{text} {unknown}".strip())
        show_brigade = not frame.slots.keys() & {"brigade", "person"}
        items = tuple(
            f"• {h.title}" + (f" — бригада {h.brigade}" if show_brigade and h.brigade else "")
            for h in houses
        )
        head = f"{label[0].upper()}{label[1:]}: " if label else "Всего: "
        return Answer(
            header=f"{head}{self.agree(len(houses), 'дом')}.", items=items, footer=unknown
        )

    def _filtered_stats(self, frame: Frame) -> Answer:
        """Houses, apartments, entrances and floors of the houses the frame's filters pick."""
        refused = self._filter_problem(frame)
        if refused:
            return Answer(refused)
        houses = self._houses_for(frame)
        label = self._filter_label(frame)
        items = [f"Домов: {number(len(houses))}"]
        for name, values in (
            ("Квартир", [h.apartments for h in houses]),
            ("Подъездов", [h.entrances for h in houses]),
        ):
            known = [v for v in values if v is not None]
            empty = len(values) - len(known)
            note = f" (не указано у {self.of_count(empty, 'дом')})" if empty else ""
            items.append(f"{name}: {number(sum(known))}{note}")
        return Answer(f"Статистика ({label}):", items=tuple(items))

    def _count(self, frame: Frame, today: date) -> Answer:
        metric = frame.slots.get("metric", "houses")
        label = self._filter_label(frame)
        where = f" ({label})" if label else ""
        filtered = bool(frame.slots.keys() & set(HOUSE_FILTERS))
        if metric == "employees":
            brigade = frame.slots.get("brigade")
            person = frame.slots.get("person")
            if isinstance(person, Employee):
                brigade = person.brigade
            position = frame.slots.get("position")
            people = self.snap.people(
                brigade=brigade, position=str(position) if position else None
            )
            department = frame.slots.get("department")
            if isinstance(department, Department):
                people = self._of_department(people, department)
                where = f" ({', '.join(p for p in (department.name, label) if p)})"
            house_only = frame.slots.keys() & (set(HOUSE_FILTERS) - {"brigade", "person"})
            if house_only:
                # People belong to brigades, not to streets or companies: say so, with the
                # brigades that serve those houses.
                brigades = sorted({h.brigade for h in self._houses_for(frame) if h.brigade})
                serve = ", ".join(str(b) for b in brigades) or "—"
                return Answer(
                    f"Сотрудники закреплены за бригадами, а не за домами. "
                    f"Эти дома ({label}) обслуживают бригады: {serve}."
                )
            if position:
                where = f" ({', '.join(p for p in (str(position), label) if p)})"
            return Answer(f"Сотрудников{where}: {number(len(people))}.")
        refused = self._filter_problem(frame)
        if refused:
            return Answer(refused)
        department = frame.slots.get("department")
        if isinstance(department, Department):
            # «сколько домов в офисе»: houses belong to brigades, not to a department.
            return Answer(
                f"Подразделение «{department.name}» — это сотрудники, а не дома: спросите "
                f"«сколько человек — {department.name}»."
            )
        person = frame.slots.get("person")
        position = frame.slots.get("position")
        if position and not (
            isinstance(person, Employee)
            and (person.position or "").lower() == str(position).lower()
        ):
            # «у бригадира Петрова»: a role that only describes the person named narrows
            # nothing; any other role would be a filter houses do not have.
            return Answer(
                f"Должность («{frame.slots['position']}») относится к сотрудникам, а не к "
                f"домам: спросите «сколько человек — {frame.slots['position']}»."
            )
        houses = self._houses_for(frame)
        if metric == "brigades":
            if filtered:
                brigades = sorted({h.brigade for h in houses if h.brigade is not None})
                listing = ", ".join(str(b) for b in brigades)
                return Answer(f"Бригад{where}: {number(len(brigades))} ({listing or 'нет'}).")
            return Answer(f"Бригад: {number(len(self.snap.brigades))}.")
        if metric == "companies":
            if filtered:
                names = sorted(
                    {self.snap.companies[h.company_id].name for h in houses if h.company_id}
                )
                without = sum(1 for h in houses if h.company_id is None)
                text = f"Управляющих компаний{where}: {number(len(names))}."
                if without:
                    text += f" Домов без УК: {number(without)}."
                return Answer(text, items=tuple(f"• {n}" for n in names))
            with_houses = sum(1 for _, n in self.snap.companies_with_counts() if n)
            total = len(self.snap.companies)
            return Answer(
                f"Управляющих компаний: {number(total)} (с нашими домами — {number(with_houses)})."
            )
        head = f"{label[0].upper()}{label[1:]}: " if label else ""
        if metric == "houses":
            if frame.slots.get("no_company") and set(frame.slots) <= {"metric", "no_company"}:
                return Answer(f"Домов без УК: {number(len(houses))}.")
            if label:
                unknown = self._unknown_bounds(frame)
                return Answer(f"{head}{self.agree(len(houses), 'дом')}. {unknown}".strip())
            return Answer(f"Домов: {number(len(houses))}.")
        values = [getattr(h, metric) for h in houses]
        known = [v for v in values if v is not None]
        total = sum(known)
        noun = METRIC_NOUNS[metric]
        title = {
            "apartments": "Квартир",
            "entrances": "Подъездов",
            "floors": "Этажей в сумме",
            "lifts": "Лифтов",
        }[metric]
        if label:
            text = f"{head}{self.agree(len(houses), 'дом')}, {title.lower()} — {number(total)}."
        else:
            text = f"{title}: {number(total)}."
        missing = len(values) - len(known)
        if missing:
            text += (
                f" Число {self.morph.plural(0, noun)} указано у {number(len(known))} "
                f"из {self.of_count(len(houses), 'дом')}."
            )
        elif not label:
            text += f" Домов: {number(len(houses))}."
        return Answer(text)

    def _stats_summary(self, frame: Frame, today: date) -> Answer:
        if frame.slots.keys() & (set(HOUSE_FILTERS) - {"brigade"}):
            # «сколько домов мы обслуживаем для УК Домовой», «статистика по Кондрово»: the
            # company-wide or brigade figures would count another set — count the asked one.
            return self._filtered_stats(frame)
        stats = self.snap.statistics()
        brigade = frame.slots.get("brigade")
        month = MONTHS_PREPOSITIONAL[today.month - 1]
        if isinstance(brigade, int):
            totals = stats.per_brigade[brigade]
            houses = self.snap.houses_by_brigade.get(brigade, [])
            filled = {
                "квартиры": sum(1 for h in houses if h.apartments is not None),
                "подъезды": sum(1 for h in houses if h.entrances is not None),
                "этажи": sum(1 for h in houses if h.floors is not None),
                f"график в {month}": sum(
                    1 for h in houses if h.visits_in(today.year, today.month)
                ),
            }
            head = self.snap.person(self.snap.brigades[brigade].head_id)
            lines = (
                f"Домов: {number(totals.houses)} · квартир: {number(totals.apartments)} · "
                f"подъездов: {number(totals.entrances)} · этажей (сумма): {number(totals.floors)}",
                f"Людей: {number(totals.people)}"
                + (f", бригадир {head.short_name}" if head else ""),
                "Заполнено: "
                + ", ".join(f"{name} {n}/{totals.houses}" for name, n in filled.items()),
            )
            return Answer(f"Статистика бригады {brigade}:", items=lines)
        t = stats.totals
        items = [
            f"Домов: {number(t.houses)} · квартир: {number(t.apartments)} · "
            f"подъездов: {number(t.entrances)} · этажей (сумма): {number(t.floors)}",
            f"Сотрудников: {number(stats.employees)} · бригад: {number(stats.brigades)} · "
            f"УК: {number(stats.companies)} "
            f"(домов без УК: {number(stats.houses_without_company)})",
            "По бригадам:",
        ]
        for n, bt in sorted(stats.per_brigade.items()):
            items.append(
                f"• Бригада {n}: {self.agree(bt.houses, 'дом')}, "
                f"{self.agree(bt.apartments, 'квартира')}, {self.agree(bt.entrances, 'подъезд')}, "
                f"{self.agree(bt.people, 'человек')}"
            )
        names = {
            "apartments": "квартиры",
            "entrances": "подъезды",
            "floors": "этажи",
            "company": "УК",
            "brigade": "бригада",
            "full_address": "полный адрес",
            "schedule": f"график в {month}",
        }
        items.append(
            "Заполненность полей: "
            + ", ".join(
                f"{names[c.field]} {c.filled}/{c.total} ({c.percent:.0f} %)"
                # Implausible cells ('1e9', 'nan') are unknown, not summed: say how many.
                + (f", неправдоподобных {c.invalid}" if c.invalid else "")
                for c in stats.coverage
            )
        )
        if stats.houses_without_brigade:
            items.append(f"Домов без бригады: {number(stats.houses_without_brigade)}")
        return Answer(f"Статистика на {day_label(today)}:", items=tuple(items))

    def _house_info(self, frame: Frame, today: date) -> Answer:
        house = frame.slots["house"]
        assert isinstance(house, House)
        items = []
        if house.full_address and house.full_address != house.title:
            items.append(f"Адрес: {house.full_address}")
        if house.brigade is not None:
            brigade = self.snap.brigades.get(house.brigade)
            head = self.snap.person(brigade.head_id) if brigade else None
            extra = (
                f" (бригадир {head.short_name}"
                + (f", {head.phone}" if head and head.phone else "")
                + ")"
                if head
                else ""
            )
            items.append(f"Бригада: {house.brigade}{extra}")
        else:
            items.append("Бригада: не указана")
        company = self.snap.companies.get(house.company_id or "")
        items.append(f"УК: {company.name}" if company else "УК: не указана")
        counts = [
            f"квартир {house.apartments}"
            if house.apartments is not None
            else "квартир — не указано",
            f"подъездов {house.entrances}"
            if house.entrances is not None
            else "подъездов — не указано",
            f"этажей {house.floors}" if house.floors is not None else "этажей — не указано",
        ]
        items.append("Дом: " + ", ".join(counts))
        visits = house.visits_in(today.year, today.month)
        month = MONTHS_PREPOSITIONAL[today.month - 1]
        if visits:
            days = ", ".join(str(v.day.day) for v in visits)
            items.append(
                f"Уборка в {month}: {house.periodicity(today.year, today.month)} "
                f"({days} {MONTHS_GENITIVE[today.month - 1]})"
            )
        else:
            items.append(f"Уборка в {month}: периодичность не указана")
        upcoming = next((v for v in house.visits if v.day >= today), None)
        if upcoming:
            items.append(f"Ближайшая уборка: {day_label(upcoming.day, today)}")
        extras = [
            ("Тип дома", house.house_type),
            ("Лифтов", str(house.lifts) if house.lifts is not None else None),
            ("Код домофона", house.intercom),
            ("Комментарий для бригады", house.note),
        ]
        items.extend(f"{name}: {value}" for name, value in extras if value)
        field_name = frame.slots.get("field")
        if isinstance(field_name, str) and field_name in HOUSE_FIELD_LINES:
            return Answer(
                f"🏠 {house.title}: {self._house_field(house, field_name)}", items=tuple(items)
            )
        return Answer(f"🏠 {house.title}", items=tuple(items))

    def _house_field(self, house: House, field_name: str) -> str:
        """One asked fact of a house, said as empty when the CRM has nothing (rule 3)."""
        name, empty = HOUSE_FIELD_LINES[field_name]
        value: object = {
            "intercom": house.intercom,
            "note": house.note,
            "house_type": house.house_type,
            "lifts": house.lifts,
        }[field_name]
        if field_name == "lifts" and value == 0:
            return "лифтов нет."
        if value is None or value == "":
            return f"{empty}."
        return f"{name} — {value}."

    def _house_schedule(self, frame: Frame, today: date) -> Answer:
        house = frame.slots["house"]
        assert isinstance(house, House)
        if frame.slots.get("last"):
            # «последний раз»: the latest planned date before today (the CRM holds plans).
            past = [v for v in house.visits if v.day < today]
            return self._one_visit(house, past[-1] if past else None, today, ahead=False)
        if frame.slots.get("next"):
            # «ближайшая уборка»: the earliest planned date from today on, or that none is.
            ahead = [v for v in house.visits if v.day >= today]
            return self._one_visit(house, ahead[0] if ahead else None, today, ahead=True)
        period = frame.slots.get("date")
        if isinstance(period, DateRange):
            return self._house_schedule_between(house, period, today)
        month_slot = frame.slots.get("month")
        if isinstance(month_slot, str):
            year, month = (int(p) for p in month_slot.split("-"))
        else:
            year, month = today.year, today.month
        visits = house.visits_in(year, month)
        title = f"{MONTHS_NOMINATIVE[month - 1]} {year}"
        if (year, month) not in self._schedule_months():
            return Answer(self._no_schedule_fields(year, month))
        if not visits:
            known = sorted({(v.day.year, v.day.month) for v in house.visits})
            hint = ""
            if known:
                hint = (
                    " График есть на: "
                    + ", ".join(f"{MONTHS_NOMINATIVE[m - 1]} {y}" for y, m in known)
                    + "."
                )
            return Answer(
                f"{house.title}: на {title} уборка не запланирована "
                f"(периодичность не указана).{hint}"
            )
        items = tuple(
            f"• {day_label(v.day, today)} — {v.label or 'тип не указан'}" for v in visits
        )
        footer = ""
        upcoming = next((v for v in house.visits if v.day >= today), None)
        if upcoming and (upcoming.day.year, upcoming.day.month) != (year, month):
            footer = f"Ближайшая уборка: {day_label(upcoming.day, today)}."
        periodicity = house.periodicity(year, month)
        return Answer(
            f"График уборки {house.title}, {title} — {periodicity}:", items=items, footer=footer
        )

    def _one_visit(self, house: House, visit: Visit | None, today: date, *, ahead: bool) -> Answer:
        """The last visit before today or the next from today on, or that the schedule has
        none on that side (with the months it covers)."""
        if visit is None:
            side = "с сегодняшнего дня" if ahead else "до сегодняшнего дня"
            return Answer(
                f"{house.title}: {side} уборок в графике нет "
                f"(график в Bitrix24 есть на {self._schedule_span()})."
            )
        which = "ближайшая" if ahead else "последняя"
        return Answer(
            f"{house.title}: {which} уборка по графику — {day_label(visit.day, today)}, "
            f"{visit.label or 'тип не указан'}.",
            # A past date is a plan, not a record that the cleaning happened.
            footer=""
            if ahead
            else "Это дата из графика в Bitrix24; отметок о выполнении в нём нет.",
        )

    def _house_schedule_between(self, house: House, period: DateRange, today: date) -> Answer:
        """One house's visits on a day or range («была ли уборка на Майской 8 на этой неделе»).

        The asked days are the set: never the whole month's schedule instead (rule 1). When
        none fall in it, the nearest visits on either side are named so the answer still helps.
        """
        when = range_label(period, today)
        asked = {(d.year, d.month) for d in _days(period.start, period.end)}
        if not asked & self._schedule_months():
            return Answer(self._no_schedule_fields(*min(asked)))
        visits = [v for v in house.visits if period.start <= v.day <= period.end]
        if visits:
            items = tuple(
                f"• {day_label(v.day, today)} — {v.label or 'тип не указан'}" for v in visits
            )
            return Answer(
                f"{house.title}, уборка на {when}: {self.agree(len(visits), 'уборка')}.",
                items=items,
            )
        before = [v for v in house.visits if v.day < period.start]
        after = [v for v in house.visits if v.day > period.end]
        nearest = []
        if before:
            nearest.append(f"предыдущая — {day_label(before[-1].day, today)}")
        if after:
            nearest.append(f"следующая — {day_label(after[0].day, today)}")
        tail = f" По графику {', '.join(nearest)}." if nearest else ""
        return Answer(f"{house.title}: на {when} уборка не запланирована.{tail}")

    def _schedule_day(self, frame: Frame, today: date) -> Answer:
        period = frame.slots.get("date")
        if not isinstance(period, DateRange):
            period = DateRange(today, today)
        brigade = frame.slots.get("brigade")
        visits = self.snap.visits_between(period.start, period.end, brigade=brigade)
        who = f"бригада {brigade}" if brigade is not None else "все бригады"
        if frame.slots.keys() & (set(HOUSE_FILTERS) - {"brigade"}):
            # Any other house filter (a person's brigade, a street, a town, a УК…) narrows the
            # day's houses too: never the whole company's day for «у коновалова».
            refused = self._filter_problem(frame)
            if refused:
                return Answer(refused)
            chosen = {h.id for h in self._houses_for(frame)}
            visits = [(h, v) for h, v in visits if h.id in chosen]
            who = self._filter_label(frame)
            brigade = -1  # the brigade column is not needed when a filter chose the houses
        when = range_label(period, today)
        covered = self._schedule_months()
        asked = {(d.year, d.month) for d in _days(period.start, period.end)}
        if not asked & covered:
            first = min(asked)
            return Answer(self._no_schedule_fields(*first))
        if not visits:
            return Answer(f"Уборка на {when} ({who}): ничего не запланировано.")
        items: list[str] = []
        current: date | None = None
        multi_day = period.start != period.end
        for house, visit in visits:
            if multi_day and visit.day != current:
                current = visit.day
                items.append(f"{day_label(visit.day, today)}:")
            tail = f" — бригада {house.brigade}" if brigade is None and house.brigade else ""
            items.append(f"• {house.title}{tail} ({_short_kind(visit.label)})")
        houses = len({h.id for h, _ in visits})
        head = f"Уборка на {when} ({who}): {self.agree(houses, 'дом')}"
        if houses != len(visits):
            head += f", {self.agree(len(visits), 'уборка')}"
        return Answer(head + ".", items=tuple(items))

    def _schedule_months(self) -> set[tuple[int, int]]:
        """The months the CRM has schedule fields for (the real portal adds them monthly)."""
        return {(slot.year, slot.month) for slot in self.snap.mapping.schedule}

    def _schedule_span(self) -> str:
        """The months the CRM has schedule fields for, in words («октябрь 2026, ноябрь 2026»)."""
        return ", ".join(
            f"{MONTHS_NOMINATIVE[m - 1]} {y}" for y, m in sorted(self._schedule_months())
        )

    def _no_schedule_fields(self, year: int, month: int) -> str:
        return (
            f"Графика на {MONTHS_NOMINATIVE[month - 1]} {year} в Bitrix24 нет: поля графика "
            f"заведены только на {self._schedule_span() or 'ни один месяц'}."
        )

    def _departments_list(self, frame: Frame, today: date) -> Answer:
        deps = self.snap.department_tree()
        depth: dict[str, int] = {}
        items = []
        for dep in deps:
            level = depth.get(dep.parent_id or "", -1) + 1 if dep.parent_id in depth else 0
            depth[dep.id] = level
            head = self.snap.person(dep.head_id)
            parts = [f"{'  ' * level}• {dep.name}"]
            details = []
            if head:
                details.append(("бригадир " if dep.brigade else "руководитель ") + head.short_name)
            details.append(self.agree(dep.size, "человек"))
            if dep.brigade is not None:
                details.append(
                    self.agree(len(self.snap.houses_by_brigade.get(dep.brigade, [])), "дом")
                )
            items.append(parts[0] + " — " + ", ".join(details))
        return Answer(
            f"Структура компании: {self.agree(len(deps), 'подразделение')}, "
            f"{self.agree(len(self.snap.brigades), 'бригада')}.",
            items=tuple(items),
        )

    def _brigade_info(self, frame: Frame, today: date) -> Answer:
        number_ = frame.slots.get("brigade")
        if not isinstance(number_, int):
            return self._departments_list(frame, today)
        brigade = self.snap.brigades[number_]
        head = self.snap.person(brigade.head_id)
        houses = self.snap.houses_by_brigade.get(number_, [])
        apartments = sum(h.apartments or 0 for h in houses)
        items = []
        if head:
            items.append(
                f"Бригадир: {head.full_name}"
                + (f", {head.phone}" if head.phone else ", телефон не указан")
            )
        else:
            items.append("Бригадир: не назначен")
        items.append(
            f"Людей: {number(len(brigade.member_ids))} · домов: {number(len(houses))} · "
            f"квартир: {number(apartments)}"
        )
        today_visits = self.snap.visits_between(today, today, brigade=number_)
        items.append(f"Сегодня по графику: {self.agree(len(today_visits), 'дом')}")
        members = [self.snap.employees[p] for p in brigade.member_ids if p in self.snap.employees]
        items.append("Состав: " + ", ".join(m.short_name for m in members))
        return Answer(
            f"{brigade.name}:",
            items=tuple(items),
            footer=f"Адреса: «дома бригады {number_}».",
        )

    def _employees_list(self, frame: Frame, today: date) -> Answer:
        brigade = frame.slots.get("brigade")
        position = frame.slots.get("position")
        person = frame.slots.get("person")
        if isinstance(person, Employee):
            if person.brigade is None:
                where = self._department_name(person)
                return Answer(
                    f"{person.full_name} не состоит в бригаде"
                    + (f" (подразделение: {where})" if where else "")
                    + "."
                )
            brigade = person.brigade
        place = {k: v for k, v in frame.slots.items() if k in ("street", "town")}
        if place:
            # People belong to brigades: those of the brigades that serve the place's houses.
            served = Frame("houses.list", slots=place)
            serving = sorted({h.brigade for h in self._houses_for(served) if h.brigade})
            if isinstance(brigade, int):
                serving = [b for b in serving if b == brigade]
            people = [p for b in serving for p in self.snap.people(brigade=b, position=position)]
            brigades = ", ".join(str(b) for b in serving) or "нет"
            label = ", ".join(p for p in (str(position or ""), self._filter_label(served)) if p)
            serve = "обслуживает бригада" if len(serving) == 1 else "обслуживают бригады"
            label = f"{label[0].upper()}{label[1:]} ({serve}: {brigades})"
            if not people:
                return Answer(f"{label}: никого нет.")
            items = tuple(_person_line(p, show_brigade=len(serving) > 1) for p in people)
            return Answer(f"{label}: {self.agree(len(people), 'человек')}.", items=items)
        people = self.snap.people(brigade=brigade, position=position)
        department = frame.slots.get("department")
        if isinstance(department, Department):
            people = self._of_department(people, department)
        label_parts = []
        if position:
            label_parts.append(str(position))
        if isinstance(department, Department):
            label_parts.append(department.name)
        if isinstance(person, Employee) and isinstance(brigade, int):
            label_parts.append(self._brigade_label(brigade))
        elif brigade is not None:
            label_parts.append(f"бригада {brigade}")
        label = ", ".join(label_parts) or "Все сотрудники"
        label = label[0].upper() + label[1:]
        if not people:
            return Answer(f"{label}: никого нет.")
        items = tuple(_person_line(p, show_brigade=brigade is None) for p in people)
        return Answer(f"{label}: {self.agree(len(people), 'человек')}.", items=items)

    def _employee_info(self, frame: Frame, today: date) -> Answer:
        person = frame.slots["person"]
        assert isinstance(person, Employee)
        field_name = frame.slots.get("field")
        where = f"бригада {person.brigade}" if person.brigade else self._department_name(person)
        if field_name == "phone":
            return Answer(
                f"{person.full_name}: телефон {person.phone}."
                if person.phone
                else f"У {person.full_name} телефон в Bitrix24 не указан."
            )
        if field_name == "email":
            return Answer(
                f"{person.full_name}: почта {person.email}."
                if person.email
                else f"У {person.full_name} почта в Bitrix24 не указана."
            )
        if field_name == "position":
            return Answer(
                f"{person.full_name} — {person.position or 'должность не указана'}"
                + (f", {where}" if where else "")
                + "."
            )
        if field_name == "department":
            department = self._department_name(person)
            return Answer(
                f"{person.full_name} — {department}"
                + (f" ({person.position})" if person.position else "")
                + "."
                if department
                else f"У {person.full_name} подразделение в Bitrix24 не указано."
            )
        if field_name == "brigade":
            if person.brigade:
                return Answer(f"{person.full_name} — в бригаде {person.brigade}.")
            return Answer(
                f"{person.full_name} не состоит в бригаде" + (f" ({where})" if where else "") + "."
            )
        items = [
            f"Должность: {person.position or 'не указана'}",
            f"Подразделение: {where or 'не указано'}",
            f"Телефон: {person.phone or 'не указан'}",
            # Said even when empty: «должность и почта» is answered by this card (rule 4).
            f"Почта: {person.email or 'не указана'}",
        ]
        return Answer(f"👤 {person.full_name}", items=tuple(items))

    def _of_department(self, people: list[Employee], department: Department) -> list[Employee]:
        """Those of ``people`` in the department or any department under it."""
        inside = {department.id}
        grew = True
        while grew:
            more = {d.id for d in self.snap.departments.values() if d.parent_id in inside}
            grew = not more <= inside
            inside |= more
        return [p for p in people if inside & set(p.department_ids)]

    def _department_name(self, person: Employee) -> str:
        for dep_id in person.department_ids:
            dep = self.snap.departments.get(dep_id)
            if dep:
                return dep.name
        return ""

    def _company_info(self, frame: Frame, today: date) -> Answer:
        company = frame.slots.get("company")
        if not isinstance(company, Company):
            return Answer("Не понял, о какой управляющей компании речь. Назовите её: «УК Гарант».")
        houses = self.snap.houses_where(company_id=company.id)
        lines = {
            "phone": f"Телефон: {company.phone or 'не указан'}",
            "email": f"Почта: {company.email or 'не указана'}",
            "address": f"Адрес: {company.address or 'не указан'}",
            "contact": f"Контактное лицо / комментарий: {company.contact or 'не указано'}",
        }
        asked = frame.slots.get("field")
        order = ["phone", "email", "address", "contact"]
        if asked == "contact":
            order = ["phone", "email", "contact", "address"]
        elif isinstance(asked, str) and asked in lines:
            order = [asked, *(k for k in order if k != asked)]
        items = [lines[k] for k in order]
        items.append(f"Наших домов: {number(len(houses))} (список: «дома {company.name}»)")
        return Answer(f"🏢 {company.name}", items=tuple(items))

    def _rank(self, frame: Frame, today: date) -> Answer:
        metric = str(frame.slots.get("metric", "houses"))
        by = str(frame.slots.get("by", "brigade"))
        least = frame.slots.get("order") == "least"
        houses = self._houses_for(frame)
        label = self._filter_label(frame)
        if (
            metric == "employees"
            and by == "brigade"
            and not frame.slots.keys()
            - {
                "metric",
                "by",
                "order",
            }
        ):
            # «в какой бригаде больше всего людей»: brigades by their people.
            sizes = sorted(
                ((len(b.member_ids), n) for n, b in self.snap.brigades.items()),
                key=lambda sn: (sn[0] if least else -sn[0], sn[1]),
            )
            top = [n for size, n in sizes if size == sizes[0][0]]
            word = "Меньше всего" if least else "Больше всего"
            return Answer(
                f"{word} людей: "
                + ", ".join(self._brigade_label(n) for n in top)
                + f" — {self.agree(sizes[0][0], 'человек')}.",
                items=tuple(
                    f"{i}. {self._brigade_label(n)} — {self.agree(size, 'человек')}"
                    for i, (size, n) in enumerate(sizes, 1)
                ),
            )
        if metric not in ("houses", "apartments", "entrances", "floors", "lifts"):
            return Answer(
                "Сравнивать могу дома, квартиры, подъезды, этажи и лифты, а людей — только по "
                "бригадам."
            )
        groups: dict[str, list[House]] = {}
        # A brigade's label is the same for each of its hundreds of houses: make it once.
        labels: dict[int, str] = {}
        for house in houses:
            key: str | None
            if by == "brigade":
                if house.brigade is None:
                    key = None
                elif (key := labels.get(house.brigade)) is None:
                    key = labels[house.brigade] = self._brigade_label(house.brigade)
            elif by == "street":
                key = house.address.street_label
            elif by == "town":
                key = house.address.town
            elif by == "company":
                company = self.snap.companies.get(house.company_id or "")
                key = company.name if company else None
            else:
                key = house.title
            if key is not None:
                groups.setdefault(key, []).append(house)
        among = frame.slots.get("among")
        if isinstance(among, list):
            # «в Калуге или в Кондрово»: only the groups the comparison names.
            named = {self._group_key(by, value) for value in among}
            groups = {k: g for k, g in groups.items() if k in named}
        noun = METRIC_NOUNS[metric]

        def total(group: list[House]) -> int:
            if metric == "houses":
                return len(group)
            return sum(getattr(h, metric) or 0 for h in group)

        if by == "house" and metric == "houses":
            return Answer("Сравнить дома по числу домов нельзя — уточните, что сравнить.")
        totals = {k: total(g) for k, g in groups.items()}  # each group summed once
        rows = sorted(
            groups.items(), key=lambda kv: (totals[kv[0]] if least else -totals[kv[0]], kv[0])
        )
        if not rows:
            return Answer(f"Сравнивать нечего: домов не найдено ({label}).")
        unknown = ""
        if metric != "houses":
            missing = sum(1 for h in houses if getattr(h, metric) is None)
            if missing:
                nouns = self.morph.plural(0, noun)
                unknown = f"Число {nouns} не указано у {self.of_count(missing, 'дом')}."
        scope = f" ({label})" if label else ""
        by_words = {
            "brigade": "по бригадам",
            "street": "по улицам",
            "town": "по городам",
            "company": "по УК",
            "house": "по домам",
        }[by]
        if frame.slots.get("each"):
            # «сколько квартир по бригадам»: every group with its figure, none left out.
            rows.sort(key=lambda kv: kv[0])
            whole = self.agree(sum(totals[k] for k, _ in rows), noun)
            head = f"{self.morph.plural(0, noun).capitalize()} {by_words}{scope}: всего {whole}."
            listed = tuple(f"• {k} — {self.agree(totals[k], noun)}" for k, _ in rows)
            grouped = {h.id for _, g in rows for h in g}
            outside = [h for h in houses if h.id not in grouped]
            if outside and not isinstance(among, list):
                # «по УК»: houses without one are part of the company too; said, not lost.
                apart = "Без УК" if by == "company" else "Без группы"
                tail = f"{apart}: {self.agree(total(outside), noun)}."
                unknown = f"{tail}\n{unknown}" if unknown else tail
            return Answer(head, items=listed, footer=unknown)
        best_value = totals[rows[0][0]]
        leaders = [k for k, _ in rows if totals[k] == best_value]
        word = "Меньше всего" if least else "Больше всего"
        head = (
            f"{word} {self.morph.plural(0, noun)} {by_words}{scope}: "
            f"{', '.join(leaders)} — {self.agree(best_value, noun)}."
        )
        items = tuple(
            f"{i}. {k} — {self.agree(totals[k], noun)}" for i, (k, _) in enumerate(rows[:10], 1)
        )
        return Answer(head, items=items, footer=unknown)

    def _group_key(self, by: str, value: Any) -> str | None:
        """The rank's group label of a named group (a brigade number, a town, a street, a УК)."""
        if by == "brigade" and isinstance(value, int):
            return self._brigade_label(value)
        if by == "town" and isinstance(value, str):
            return value
        if by == "street" and isinstance(value, StreetEntry):
            return value.label
        if by == "company" and isinstance(value, Company):
            return value.name
        return None

    def _companies_list(self, frame: Frame, today: date) -> Answer:
        label = self._filter_label(frame)
        if label:
            # «какие УК работают в Кондрово»: the companies of the houses that match.
            refused = self._filter_problem(frame)
            if refused:
                return Answer(refused)
            houses = self._houses_for(frame)
            counts = Counter(h.company_id for h in houses if h.company_id)
            ranked = sorted(
                counts.items(), key=lambda kv: (-kv[1], self.snap.companies[kv[0]].name)
            )
            items = tuple(
                f"• {self.snap.companies[cid].name} — {self.agree(n, 'дом')}" for cid, n in ranked
            )
            without = sum(1 for h in houses if h.company_id is None)
            footer = f"Без УК: {self.agree(without, 'дом')}." if without else ""
            head = f"{label[0].upper()}{label[1:]}"
            if not houses:
                return Answer(f"{head}: домов нет — и управляющих компаний тоже.")
            return Answer(
                f"{head}: управляющих компаний — {number(len(ranked))} "
                f"(на {self.agree(len(houses), 'дом')}).",
                items=items,
                footer=footer,
            )
        rows = self.snap.companies_with_counts()
        items = tuple(f"• {c.name} — {self.agree(n, 'дом')}" for c, n in rows)
        without = self.snap.statistics().houses_without_company
        footer = f"Без УК: {self.agree(without, 'дом')}." if without else ""
        return Answer(f"Управляющие компании: {number(len(rows))}.", items=items, footer=footer)

    def _tasks_list(self, frame: Frame, today: date) -> Answer:
        period = frame.slots.get("date")
        overdue = bool(frame.slots.get("overdue"))
        person = frame.slots.get("person")
        house = frame.slots.get("house")
        brigade = frame.slots.get("brigade")
        done = bool(frame.slots.get("done"))
        position = frame.slots.get("position")
        department = frame.slots.get("department")

        def select(finished: bool) -> list[Task]:
            chosen = self.snap.tasks_where(
                # Finished tasks are dated by when they were closed («закрыли в ноябре»).
                start=period.start if isinstance(period, DateRange) and not finished else None,
                end=period.end if isinstance(period, DateRange) and not finished else None,
                overdue=overdue,
                brigade=brigade,
                person_id=person.id if isinstance(person, Employee) else None,
                house_id=house.id if isinstance(house, House) else None,
                text=frame.slots.get("text"),
                include_done=finished,
            )
            if finished:
                chosen = [
                    t
                    for t in chosen
                    if t.status == TaskStatus.COMPLETED
                    and (
                        not isinstance(period, DateRange)
                        or (
                            t.closed is not None
                            and period.start
                            <= t.closed.astimezone(self.snap.tz).date()
                            <= period.end
                        )
                    )
                ]
            if isinstance(position, str):
                # «задачи бригадиров»: the tasks whose responsible holds the position.
                holders = {p.id for p in self.snap.people(position=position)}
                chosen = [t for t in chosen if t.responsible_id in holders]
            if isinstance(department, Department):
                # «задачи сотрудников офиса»: whose responsible works in the department.
                staff = {p.id for p in self._of_department(self.snap.people(), department)}
                chosen = [t for t in chosen if t.responsible_id in staff]
            return chosen

        tasks = select(done)
        parts = []
        if overdue:
            parts.append("просроченные")
        if done:
            parts.append("завершённые")
        if isinstance(period, DateRange):
            parts.append(("закрыты за " if done else "на ") + range_label(period, today))
        if brigade is not None:
            parts.append(f"бригада {brigade}")
        if isinstance(person, Employee):
            parts.append(person.short_name)
        if isinstance(position, str):
            parts.append(f"ответственный — {position.lower()}")
        if isinstance(department, Department):
            parts.append(department.name)
        if isinstance(house, House):
            parts.append(house.title)
        if frame.slots.get("text"):
            parts.append(f"в названии «{frame.slots['text']}…»")
        label = ", ".join(parts)
        title = f"Задачи ({label})" if label else "Открытые задачи"
        rest = ""
        if done:
            # «сколько задач выполнил петров»: the finished ones answer; the rest of the same
            # set is named apart, so neither is mistaken for the other.
            still = select(False)
            rest = f"Ещё не завершены: {number(len(still))}." if still else "Незавершённых нет."
        if not tasks:
            return Answer(f"{title}: нет.", footer=rest)
        now = self.snap.now()
        items = tuple(self._task_line(t, now) for t in tasks)
        within = frame.slots.get("within")
        footer = ""
        if isinstance(within, DateRange):
            # «… и какие из них на этой неделе»: the part of the list in that period.
            part = [
                t
                for t in tasks
                if t.deadline
                and within.start <= t.deadline.astimezone(self.snap.tz).date() <= within.end
            ]
            footer = f"Из них на {range_label(within, today)}: " + (
                f"{number(len(part))} — " + "; ".join(t.title for t in part) + "."
                if part
                else "нет."
            )
        if rest:
            footer = f"{footer}\n{rest}" if footer else rest
        return Answer(f"{title}: {number(len(tasks))}.", items=items, footer=footer)

    def _task_line(self, task: Task, now: datetime) -> str:
        who = self.snap.person(task.responsible_id)
        parts = [f"• {task.title}"]
        if task.deadline:
            local = task.deadline.astimezone(self.snap.tz)
            parts.append(f"срок {local.strftime('%d.%m %H:%M')}")
            if task.overdue(now):
                late = (now.date() - local.date()).days
                parts.append(f"просрочена на {self.agree(late, 'день')}" if late else "просрочена")
        else:
            parts.append("без срока")
        if who:
            parts.append(who.short_name)
        parts.append(task.status_label)
        return " — ".join(parts[:1]) + " — " + ", ".join(parts[1:])

    def _calendar_list(self, frame: Frame, today: date) -> Answer:
        period = frame.slots.get("date")
        person = frame.slots.get("person")
        text = frame.slots.get("text")
        footer = ""
        if not isinstance(period, DateRange) and text:
            # «когда медосмотр»: every such event the calendar holds, and the next one named.
            days = [e.start.astimezone(self.snap.tz).date() for e in self.snap.events]
            period = DateRange(min([*days, today]), max([*days, today]))
            when = "весь календарь"
            coming = self.snap.events_between(today, period.end, text=text)
            footer = (
                f"Ближайшее: {day_label(coming[0].start.astimezone(self.snap.tz).date(), today)}"
                f" — {coming[0].name}."
                if coming
                else "Впереди таких событий в календаре нет."
            )
        elif not isinstance(period, DateRange):
            period = DateRange(today, today + timedelta(days=6))
            when = "ближайшие 7 дней"
        else:
            when = range_label(period, today)
        events = self.snap.events_between(
            period.start,
            period.end,
            person_id=person.id if isinstance(person, Employee) else None,
            text=text,
        )
        whose = []
        if isinstance(person, Employee):
            whose.append(f"с участием {person.short_name}")
        if text:
            whose.append(f"в названии «{text}…»")
        if whose:
            when = f"{when} ({', '.join(whose)})"
        if not events:
            return Answer(f"В календаре на {when} событий нет.")
        items = []
        for event in events:
            start = event.start.astimezone(self.snap.tz)
            end = event.end.astimezone(self.snap.tz)
            if event.all_day and end.date() > start.date():
                when_text = f"{day_label(start.date(), today)} — {day_label(end.date(), today)}"
            elif event.all_day:
                when_text = f"{day_label(start.date(), today)}, весь день"
            else:
                when_text = f"{day_label(start.date(), today)} {start:%H:%M}–{end:%H:%M}"
            place = f" ({event.location})" if event.location else ""
            items.append(f"• {when_text} — {event.name}{place}")
        return Answer(
            f"События на {when}: {number(len(events))}.", items=tuple(items), footer=footer
        )

    def _help(self, frame: Frame, today: date) -> Answer:
        return simple_answer(frame)

    def _greeting(self, frame: Frame, today: date) -> Answer:
        return simple_answer(frame)

    def _unknown(self, frame: Frame, today: date) -> Answer:
        said = frame.text.strip()
        if frame.source == "write":
            # A change the write commands (bot/nlu/commands.py) did not understand: say what
            # can be written, never answer with the data the request names.
            return Answer(
                "Это похоже на просьбу что-то изменить в Bitrix24, но я не понял, что именно "
                "записать, — ничего не записано. Я умею записывать (после вашего "
                "подтверждения) проблему на доме, отметку об уборке, задачу сотруднику и "
                "событие в календаре: например, «на Майской восемь сломан домофон» или "
                "«поставь задачу Ершовой проверить подвал до пятницы». Остальное — в самом "
                "Bitrix24."
            )
        if not said:
            return Answer(
                "Пустой запрос. Спросите, например: «дома бригады 3» или «задачи на завтра»."
            )
        shown = said if len(said) <= 80 else said[:77] + "…"
        return Answer(
            f"Не понял запрос «{shown}». Я отвечаю на вопросы о домах, графиках уборки, "
            "сотрудниках, задачах и календаре. Например:",
            items=tuple(f"• «{e}»" for e in EXAMPLES[:4]),
        )


def _bound_text(bound: tuple[int | None, int | None]) -> str:
    """ "9", "от 101", "до 5", "от 5 до 9"."""
    low, high = bound
    if low is not None and low == high:
        return str(low)
    if low is not None and high is not None:
        return f"от {low} до {high}"
    if low is not None:
        return f"от {low}"
    return f"до {high}"


def _short_kind(label: str) -> str:
    text = label.lower()
    if "подмет" in text:
        return "подметание"
    if "1 этаж" in text or "первого этаж" in text:
        return "влажная 1 этажа"
    if "влажн" in text:
        return "влажная"
    return label or "тип не указан"


def _person_line(person: Employee, *, show_brigade: bool) -> str:
    parts = [person.full_name, person.position or "должность не указана"]
    if show_brigade and person.brigade:
        parts.append(f"бригада {person.brigade}")
    if person.phone:
        parts.append(person.phone)
    return "• " + " — ".join(parts[:2]) + (", " + ", ".join(parts[2:]) if parts[2:] else "")


def _days(start: date, end: date) -> list[date]:
    """Every day from start to end inclusive (bounded: a year at most)."""
    count = min((end - start).days, 366)
    return [start + timedelta(days=i) for i in range(count + 1)]


def simple_answer(frame: Frame) -> Answer:
    """Answers that need no company data: help, greetings and thanks, an empty request."""
    if frame.intent == "help":
        return Answer(
            "Я отвечаю на вопросы о домах, графиках уборки, бригадах, сотрудниках, "
            "задачах и календаре по данным Bitrix24. Можно писать или говорить голосом. "
            "Например:",
            items=tuple(f"• «{e}»" for e in EXAMPLES),
            footer=(
                "А ещё могу записать в Bitrix24 — всегда после вашего подтверждения: "
                "«на Майской 8 сломан домофон» (можно с фото), «Майская 8 убрали», "
                "«поставь задачу Ершовой проверить подвал до пятницы», «планёрка в "
                "понедельник в 8:30»."
            ),
        )
    words = frame.normalized.split()
    if frame.intent != "greeting":
        return Answer(
            "Пустой запрос. Спросите, например: «дома бригады 3» или «задачи на завтра»."
        )
    if any(w.startswith(("спасиб", "благодар", "спс")) for w in words):
        return Answer("Пожалуйста! Обращайтесь.")
    if any(
        w.startswith(("пока", "свидан", "встречи", "доброго", "хорошего", "удачи")) for w in words
    ):
        return Answer("До свидания!")
    if any(w in ("ок", "окей", "хорошо", "понял", "ясно", "понятно", "отлично") for w in words):
        return Answer("👍")
    return Answer(
        "Здравствуйте! Спросите, например: «дома бригады 3» или «график Пролетарская 112/1»."
    )
