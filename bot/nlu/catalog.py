"""What the language engine knows about the company: names in every form people say them.

Built once per CRM snapshot (`CompanySnapshot`) — streets with their house numbers, management
companies, people, positions, brigades — and expanded into every case form with pymorphy3
(`bot.nlu.morph`), normalised exactly like requests are (`bot.nlu.normalize`), so that matching
is a dictionary lookup; only words that match nothing go on to fuzzy matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bitrix.company import CompanySnapshot
from bitrix.models import Company, Employee
from bot.nlu.morph import Gender, Morph, company_core
from bot.nlu.normalize import normalize_name
from bot.nlu.phonetic import phonetic_key

Phrase = tuple[str, ...]

#: Short and colloquial first names ("Таня" for Татьяна): people say them more than full ones.
DIMINUTIVES = {
    "татьяна": ("таня",), "мария": ("маша", "маня"), "ольга": ("оля",), "светлана": ("света",),
    "елена": ("лена",), "наталья": ("наташа",), "екатерина": ("катя",), "галина": ("галя",),
    "любовь": ("люба",), "надежда": ("надя",), "валентина": ("валя",), "анастасия": ("настя",),
    "юлия": ("юля",), "ксения": ("ксюша",), "евгения": ("женя",), "ирина": ("ира",),
    "лариса": ("лара",), "зинаида": ("зина",), "людмила": ("люда",), "тамара": ("тома",),
    "виктория": ("вика",), "валерия": ("лера",), "дарья": ("даша",), "анна": ("аня",),
    "дмитрий": ("дима",), "александр": ("саша",), "андрей": ("андрюша",),
    "николай": ("коля",), "геннадий": ("гена",), "константин": ("костя",),
    "анатолий": ("толя",), "максим": ("макс",), "артем": ("тема",), "сергей": ("сережа",),
}  # fmt: skip
#: Colloquial names of positions → the CRM's word.
POSITION_SYNONYMS = {"главбух": "бухгалтер", "техничка": "уборщица"}

# Legal forms and generic words that say "this is a company" but do not name one.
COMPANY_CUES = frozenset(
    {"ук", "тсж", "тсн", "жск", "муп", "мупа", "ооо", "ао", "жэу", "управляющая", "управляющей",
     "управляющую", "управляющие", "управляющих", "компания", "компании", "компанию",
     "компаний", "компанией", "управлением"}
)  # fmt: skip
#: Words that name a kind of street, in the forms people say them ("на улице", "ул").
STREET_TYPE_WORDS = frozenset(
    {
        "улица",
        "улицы",
        "улице",
        "улицу",
        "улицей",
        "ул",
        "проспект",
        "проспекта",
        "проспекте",
        "переулок",
        "переулке",
        "переулка",
    }
)


@dataclass(frozen=True, slots=True)
class StreetEntry:
    """A street that has houses: in which town, how the CRM writes it, which numbers exist."""

    key: tuple[str, str]
    town: str
    street: str
    label: str
    numbers: frozenset[str]
    core: str
    phonetic: str


@dataclass(frozen=True, slots=True)
class PersonEntry:
    """A person with the name forms that may refer to them."""

    employee: Employee
    gender: str | None


@dataclass
class Catalog:
    """Lookup tables from normalised phrases to CRM entities (see the module docstring)."""

    streets: dict[tuple[str, str], StreetEntry] = field(default_factory=dict)
    street_phrases: dict[Phrase, set[tuple[str, str]]] = field(default_factory=dict)
    towns: dict[str, str] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    company_phrases: dict[Phrase, set[str]] = field(default_factory=dict)
    company_needs_cue: set[str] = field(default_factory=set)
    company_cores: dict[str, str] = field(default_factory=dict)
    people: dict[str, PersonEntry] = field(default_factory=dict)
    surnames: dict[str, set[str]] = field(default_factory=dict)
    first_names: dict[str, set[str]] = field(default_factory=dict)
    patronymics: dict[str, set[str]] = field(default_factory=dict)
    former: dict[str, str] = field(default_factory=dict)
    former_surnames: dict[str, set[str]] = field(default_factory=dict)
    event_words: set[str] = field(default_factory=set)
    positions: dict[Phrase, str] = field(default_factory=dict)
    #: Departments other than the root and the brigades («в офисе», «на складе») → their id.
    departments: dict[Phrase, str] = field(default_factory=dict)
    position_plural: dict[Phrase, bool] = field(default_factory=dict)
    brigades: frozenset[int] = frozenset()
    vocabulary: set[str] = field(default_factory=set)
    max_phrase: int = 1

    # ------------------------------------------------------------------ building
    @classmethod
    def from_snapshot(
        cls, snapshot: CompanySnapshot, morph: Morph, *, common_words: Iterable[str] = ()
    ) -> Catalog:
        """Build every table from a snapshot. ``common_words`` are the grammar's own words:
        a company whose spoken name is made only of them ("Мой дом") must come with a cue
        ("УК «Мой дом»") to count as a company."""
        catalog = cls()
        common = set(common_words)
        catalog._add_streets(snapshot, morph)
        catalog._add_companies(snapshot, morph, common)
        catalog._add_people(snapshot, morph)
        catalog._add_former(snapshot, morph)
        catalog._add_events(snapshot, common)
        catalog.brigades = frozenset(snapshot.brigades)
        catalog._add_departments(snapshot, morph)
        for phrases in (
            catalog.street_phrases,
            catalog.company_phrases,
            catalog.positions,
            catalog.departments,
        ):
            for phrase in phrases:
                catalog.vocabulary.update(phrase)
                catalog.max_phrase = max(catalog.max_phrase, len(phrase))
        for table in (
            catalog.surnames,
            catalog.first_names,
            catalog.patronymics,
            catalog.towns,
            catalog.former_surnames,
        ):
            catalog.vocabulary.update(table)
        catalog.vocabulary.update(catalog.event_words)
        for dep in snapshot.departments.values():
            # "менеджеры офиса": department names are words people use.
            catalog.vocabulary.update(morph.phrase_forms(normalize_name(dep.name)))
            catalog.vocabulary.update(normalize_name(dep.name).split())
        return catalog

    def _add_streets(self, snapshot: CompanySnapshot, morph: Morph) -> None:
        for key, houses in snapshot.houses_by_street.items():
            sample = houses[0].address
            core = normalize_name(sample.street)
            entry = StreetEntry(
                key=key,
                town=sample.town,
                street=sample.street,
                label=sample.street_label,
                numbers=frozenset(h.address.number_key for h in houses),
                core=core,
                phonetic=phonetic_key(core),
            )
            self.streets[key] = entry
            forms = set(morph.street_forms(sample.street)) | {core}
            # "Ст.Разина": people say "степана разина", "разина", and Vosk may give "ст разина".
            words = core.split()
            if len(words) > 1 and words[0] in ("степана", "ст"):
                forms.add(" ".join(words[1:]))
            for form in forms:
                phrase = tuple(form.split())
                if phrase and not all(w in STREET_TYPE_WORDS for w in phrase):
                    self.street_phrases.setdefault(phrase, set()).add(key)
            for town_form in morph.phrase_forms(sample.town) | {normalize_name(sample.town)}:
                self.towns[town_form] = sample.town

    def _add_departments(self, snapshot: CompanySnapshot, morph: Morph) -> None:
        root = {d.id for d in snapshot.departments.values() if d.parent_id is None}
        for dep in snapshot.departments.values():
            if dep.brigade is not None or dep.id in root or not dep.name:
                continue
            name = normalize_name(dep.name)
            for form in morph.phrase_forms(name) | {name}:
                phrase = tuple(form.split())
                if phrase:
                    self.departments.setdefault(phrase, dep.id)

    def _add_companies(self, snapshot: CompanySnapshot, morph: Morph, common: set[str]) -> None:
        for company in snapshot.companies.values():
            self.companies[company.id] = company
            core = normalize_name(company_core(company.name))
            self.company_cores[company.id] = core
            forms = set(morph.company_forms(company.name)) | {core}
            head, _, last = core.rpartition(" ")
            if head:
                # Compound names decline at the end only: "у Калуга-Дома", "у Жилсервис Калуги".
                forms |= {f"{head} {form}" for form in morph.phrase_forms(last)}
            for form in forms:
                words = tuple(w for w in form.split() if w)
                # Drop the legal form at the start ("ооо ук жилкомсервис" → also "жилкомсервис").
                while words and words[0] in COMPANY_CUES:
                    words = words[1:]
                # "ЖЭУ-5" without its "ЖЭУ" would be a bare number: keep the whole name then.
                if words and not any(w.isalpha() for w in words):
                    words = tuple(w for w in form.split() if w)
                if words:
                    self.company_phrases.setdefault(words, set()).add(company.id)
                    # People type «е» for «э» («жеу 5» for «ЖЭУ-5»): both spellings name it.
                    plain = tuple(w.replace("э", "е") for w in words)
                    if plain != words:
                        self.company_phrases.setdefault(plain, set()).add(company.id)
            core_words = set(core.split())
            # Named only with common words ("Мой дом"), very short ("Ока"), or just like a town
            # ("УК Кондрово": "в Кондрово" is the town): only with "УК"/"ТСЖ"/… in front.
            if (
                not core_words
                or core_words <= common | COMPANY_CUES
                or len(core) <= 3
                or core in self.towns
            ):
                self.company_needs_cue.add(company.id)

    def _add_people(self, snapshot: CompanySnapshot, morph: Morph) -> None:
        positions: dict[str, str] = {}
        for person in snapshot.employees.values():
            gender = _gender_of(person, morph)
            self.people[person.id] = PersonEntry(employee=person, gender=gender)
            if person.last_name:
                g: Gender | None = "f" if gender == "f" else "m" if gender == "m" else None
                for form in morph.surname_forms(person.last_name, g):
                    self.surnames.setdefault(form, set()).add(person.id)
            if person.first_name:
                first = normalize_name(person.first_name)
                for name in {first, *DIMINUTIVES.get(first, ())}:
                    for form in morph.word_forms(name, plural=False) | {name}:
                        self.first_names.setdefault(form, set()).add(person.id)
            if person.second_name:
                for form in morph.word_forms(person.second_name, plural=False) | {
                    normalize_name(person.second_name)
                }:
                    self.patronymics.setdefault(form, set()).add(person.id)
            if person.position:
                positions.setdefault(normalize_name(person.position), person.position)
        for synonym, word in POSITION_SYNONYMS.items():
            holder = next((p for n, p in positions.items() if n == word), None)
            if holder is not None:
                positions.setdefault(synonym, holder)
        for normalized, position in positions.items():
            singular = morph.phrase_forms(normalized)
            for form in morph.position_forms(normalized):
                phrase = tuple(form.split())
                # A spoken form of two positions ("уборщиц" only of Уборщица): keep the first.
                self.positions.setdefault(phrase, position)
                self.position_plural.setdefault(phrase, form not in singular)

    def _add_former(self, snapshot: CompanySnapshot, morph: Morph) -> None:
        for person in snapshot.all_people.values():
            if person.active or not person.last_name or person.id in self.people:
                continue
            self.former[person.id] = person.full_name
            gender = _gender_of(person, morph)
            g: Gender | None = "f" if gender == "f" else "m" if gender == "m" else None
            for form in morph.surname_forms(person.last_name, g):
                if form not in self.surnames:
                    self.former_surnames.setdefault(form, set()).add(person.id)

    def _add_events(self, snapshot: CompanySnapshot, common: set[str]) -> None:
        """Words of calendar event names ("медосмотр", "инвентаризация"): asking about one
        ("когда медосмотр?") is a calendar question."""
        for event in snapshot.events:
            for word in normalize_name(event.name.split(":")[0]).split():
                if len(word) >= 6 and word.isalpha() and word not in common:
                    self.event_words.add(word)

    # ------------------------------------------------------------------ lookups
    def street_keys(self, phrase: Phrase) -> set[tuple[str, str]]:
        """Streets a phrase names exactly (any case form)."""
        return self.street_phrases.get(phrase, set())

    def streets_with_number(
        self, keys: Iterable[tuple[str, str]], number: str
    ) -> list[StreetEntry]:
        """The given streets that have a house with this (canonical) number."""
        return [self.streets[k] for k in keys if number in self.streets[k].numbers]

    def people_named(self, surname: str) -> set[str]:
        """Ids of people one word could name as a surname (any case form)."""
        return self.surnames.get(surname, set())


_FEMALE_ENDINGS = re.compile(r"(ова|ева|ина|ына|ая|яя|ская|цкая)$")


def _gender_of(person: Employee, morph: Morph) -> str | None:
    """The person's grammatical gender, for declining the surname (patronymic first)."""
    patronymic = person.second_name.lower()
    if patronymic.endswith(("вна", "чна", "шна")):
        return "f"
    if patronymic.endswith(("вич", "ич")):
        return "m"
    for parse in morph.parse(person.first_name.lower())[:2] if person.first_name else ():
        if "Name" in parse.tag:
            return "f" if parse.tag.gender == "femn" else "m"
    if _FEMALE_ENDINGS.search(person.last_name.lower()):
        return "f"
    return None
