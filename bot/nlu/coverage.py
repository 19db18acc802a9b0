"""Rule 1 in one place: every part of a request that names something is applied or reported.

The tagger records the span of every entity it found (`Mention`) and which tokens nothing
took (`Tagged.free`). After the intent and its slots are chosen, `unapplied` compares the two:

* a **mention** whose slot the chosen intent does not take (a person in «сколько домов у
  коновалова» when only brigades were understood, a town, a kind of house) is *unapplied*;
* a **word nobody knows** in a place where a name goes («задачи сидорова», «у ук рога и
  копыта», «по дому гагарина 5») is *not found*, with the closest names the CRM has.

The answer builder refuses to answer a frame with such a problem: it says what it could not
find or apply and gives no data for the broader question (SPEC §5, rule 1). A request that only
adds words the engine does not need («пожалуйста», «короче») is not affected: only words in a
name's position count.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.nlu.catalog import COMPANY_CUES, STREET_TYPE_WORDS
from bot.nlu.dates import DateKind, DateMatch
from bot.nlu.frame import Frame, Problem
from bot.nlu.morph import Morph
from bot.nlu.numbers import TokenKind
from bot.nlu.phonetic import similarity
from bot.nlu.registry import REGISTRY
from bot.nlu.tagger import CUE_DOC, FILTERS, PREPOSITIONS, Mention, Tagged, Tagger

#: Mention kinds that never carry a filter on their own.
_SOFT = frozenset({"text"})


def slot_of(mention: Mention, intent: str) -> str:
    """The slot a mention fills in an intent (a date of a house schedule may be its month)."""
    if mention.kind == "date" and intent == "house.schedule":
        is_month = isinstance(mention.value, DateMatch) and mention.value.kind is DateKind.MONTH
        return "month" if is_month or mention.missing else "date"
    return mention.kind


def unapplied(frame: Frame, tagged: Tagged, tagger: Tagger, morph: Morph) -> tuple[Problem, ...]:
    """The parts of the request the frame neither applies nor already reports."""
    spec = REGISTRY.get(frame.intent)
    # Help, greetings and «не понял» give no data, so nothing in them can be dropped.
    if spec is None or not spec.data or frame.clarify:
        return ()
    allowed = set(spec.slots)
    # Mentions the intent uses without a slot (the brigade that picks a namesake, a date of a
    # house): applied, though no slot shows it.
    indirect = spec.indirect
    reported = {p.said for p in frame.problems}
    problems: list[Problem] = []
    for mention in tagged.mentions:
        slot = slot_of(mention, frame.intent)
        if mention.negated:
            # «не в кондрово»: excluding is not something any answer does. Beside another of
            # its kind («в калуге, не в кондрово») it only contrasts; alone it is reported.
            contrast = any(
                m.kind == mention.kind and not m.negated and m is not mention
                for m in tagged.mentions
            )
            if not contrast and mention.text not in reported:
                problems.append(Problem(kind="unapplied", said=mention.text, reason="negation"))
            continue
        if mention.choices or mention.text in reported:
            continue
        if mention.kind in _SOFT:
            continue
        if frame.slots.get("field") == mention.kind:
            # «Билибина 4а — это панельный дом или кирпичный?»: values of the asked fact are
            # the question («какой тип?»), not a filter of the house.
            continue
        if (
            slot in frame.slots
            and mention.kind in _ONE_VALUE
            and _differs(frame.slots[slot], mention.value)
        ):
            # «дома Коновалова и Ершовой»: the slot holds one of them; the other is not dropped.
            problems.append(Problem(kind="unapplied", said=mention.text, reason=mention.kind))
            continue
        if slot in frame.slots or slot in allowed or mention.kind in indirect:
            continue
        if mention.kind in spec.titled and "text" in frame.slots:
            continue  # looked for in the titles (registry: titled)
        problems.append(Problem(kind="unapplied", said=mention.text, reason=mention.kind))
    dates = [m for m in tagged.mentions if m.kind == "date" and not m.missing]
    if len(dates) > 1 and "within" not in frame.slots:
        # «в понедельник и в среду»: one date slot holds the first; touching days were already
        # joined into one range (tagger), so other days would be dropped — reported. The
        # same day said twice («в понедельник, 30 ноября») is one day.
        first = _days(dates[0].value)
        problems.extend(
            Problem(kind="unapplied", said=m.text, reason="date")
            for m in dates[1:]
            if m.text not in reported and not _days(m.value) <= first
        )
    if spec.house_set and "text" not in allowed:
        # A word of task or event titles («жалобы») in an answer that is a set of houses
        # («есть жалобы по Майской» taken as its houses) would be dropped: reported.
        problems.extend(
            Problem(kind="unapplied", said=m.text, reason="text")
            for m in tagged.texts
            if m.text not in reported
        )
    problems.extend(_complexes(tagged, tagger.grammar_words, reported))
    problems.extend(_unknown_names(tagged, tagger, morph, reported))
    if spec.house_set:
        problems.extend(
            _unknown_streets(
                tagged, morph, tagger.grammar_words, {p.said for p in problems} | reported
            )
        )
    if spec.house_set:
        problems.extend(_unknown_features(tagged, morph, reported))
    if frame.intent in _CARDS and "field" not in frame.slots:
        said = {p.said for p in problems} | reported
        problems.extend(_unknown_fields(frame, tagged, morph, tagger.grammar_words, said))
    if (spec.house_set and frame.intent != "rank") or "house" in frame.slots:
        # «топ 5 улиц»: how many to show, not which houses. «квартир на майской 8 и 12»: the
        # second house is a number too, and one house's card would drop it.
        said = {p.said for p in problems} | reported
        problems.extend(_stray_numbers(frame, tagged, said))
    return tuple(problems)


#: «ЖК», «жилой комплекс»: a name of an estate follows (filters.yaml, complex_words).
_COMPLEX = tuple(tuple(p.split()) for p in FILTERS["complex_words"])


def _complexes(tagged: Tagged, grammar: frozenset[str], reported: set[str]) -> list[Problem]:
    """«сколько подъездов в ЖК «Молодёжный»»: an estate's name no filter took. Houses are kept
    by street and number, so the name matches none; counting every house instead would be a
    broader answer, so the name is reported as not found."""
    tokens = tagged.tokens
    free = set(tagged.free)
    words = [t.text for t in tokens]
    for i in range(len(words)):
        for phrase in _COMPLEX:
            end = i + len(phrase)
            if tuple(words[i:end]) != phrase or not all(k in free for k in range(i, end)):
                continue
            stop = end
            while stop < len(words) and stop - end < 3 and stop in free:
                if words[stop] in grammar or words[stop] in PREPOSITIONS:
                    break
                stop += 1
            said = " ".join(t.source for t in tokens[i:stop])
            if said not in reported:
                return [Problem(kind="complex", said=said)]
    return []


#: Intents whose answer without a `field` is the whole card of one house, person or УК.
_CARDS = {"house.info": "дома", "employee.info": "сотрудника", "company.info": "УК"}
#: Every cue stem of the keyword fallback (cues.yaml): words of the question, never a field.
_CUE_STEMS = tuple(stem.rstrip("$") for stems in CUE_DOC["cues"].values() for stem in stems)


def _unknown_fields(
    frame: Frame, tagged: Tagged, morph: Morph, grammar: frozenset[str], reported: set[str]
) -> list[Problem]:
    """«какой год постройки майской 8», «сколько лет петрову», «какая машина у коновалова»: a
    fact the CRM does not hold. The whole card instead would pass for an answer to it, so the
    nouns no filter or question word took are reported as a field that does not exist."""
    tokens = tagged.tokens
    free = sorted(set(tagged.free) - {m.start for m in tagged.texts})
    said: list[str] = []
    for i in free:
        word = tokens[i].text
        if not _CYRILLIC.fullmatch(word) or word in grammar or word.startswith(_CUE_STEMS):
            continue
        parses = morph.parse(word)[:1]
        tag = parses[0].tag if parses else None
        # People («жильцы спрашивают, какая бригада …») act in the sentence; they are no fact.
        if tag is not None and tag.POS == "NOUN" and parses[0].is_known and "anim" not in tag:
            said.append(tokens[i].source)
    text = " ".join(said)
    if not said or text in reported:
        return []
    return [Problem(kind="field", said=text, reason=_CARDS[frame.intent])]


#: Words a number after which names a part of one house (its entrance, flat, floor).
_HOUSE_PARTS = ("подъезд", "парадн", "кв", "этаж", "лифт")


def _stray_numbers(frame: Frame, tagged: Tagged, reported: set[str]) -> list[Problem]:
    """«сколько домов 1960 года»: a number no filter took conditions the houses somehow (a
    year, a count of something the CRM lacks). Counting all houses instead would answer a
    broader question, so the number is reported with the word after it."""
    # Numbers the frame holds already: a follow-up's brigade («а в 4?»), a bound said twice
    # («больше двенадцати этажей, ну от двенадцати»).
    held: set[object] = {frame.slots.get("brigade")}
    house = frame.slots.get("house")
    number = getattr(getattr(house, "address", None), "number", "")
    if isinstance(number, str) and (digits := re.match(r"\d+", number)):
        held.add(int(digits.group()))  # «87» answering «какой дом на Зелёной?»
    for mention in tagged.mentions:
        if isinstance(mention.value, tuple):
            held |= set(mention.value)
    problems: list[Problem] = []
    for token in tagged.bare_numbers():
        if token.kind is not TokenKind.CARDINAL or token.value is None or token.value in held:
            continue
        if token.value == 1 and not token.source.isdigit():
            continue  # «по одной управляющей компании»: «one» as in «a single»
        index = tagged.tokens.index(token)
        before = tagged.tokens[index - 1].text if index else ""
        if "house" in frame.slots and before.startswith(_HOUSE_PARTS):
            continue  # «майская 8, подъезд 2», «кв 15»: a part of the house, not a filter
        following = tagged.tokens[index + 1 : index + 2]
        said = " ".join([token.source, *(t.source for t in following if t.kind is TokenKind.WORD)])
        if said not in reported and not any(said in r or r in said for r in reported):
            problems.append(Problem(kind="unapplied", said=said, reason="number"))
    return problems


#: Filters that hold one value: a second, different one named beside it is not applied.
_ONE_VALUE = frozenset({"brigade", "person", "company", "street", "town", "house"})


def _days(match: object) -> set[date]:
    """The days a date mention covers (none when it carries no range)."""
    span = getattr(match, "range", None)
    if span is None:
        return set()
    return {span.start + timedelta(days=i) for i in range((span.end - span.start).days + 1)}


def _differs(held: object, said: object) -> bool:
    """Whether a mention names something other than the slot's value (a list slot, such as
    a comparison's groups, holds every value it took)."""
    if isinstance(held, list):
        return said not in held
    return said is not None and held != said


#: «с …», «без …»: what follows is a feature the houses have or lack.
_WITH = frozenset({"с", "со", "без", "не", "нет"})
#: Of those, the ones that negate: whatever no filter took after them is a missed condition.
_LACK = frozenset({"без", "не", "нет"})
#: What «не»/«нет» can negate in a condition on houses («не указана», «не убраны»); not a
#: verb: «не подскажете …» is politeness, not a condition.
_NEGATED = ("NOUN", "ADJF", "ADJS", "PRTF", "PRTS")


def _unknown_features(tagged: Tagged, morph: Morph, reported: set[str]) -> list[Problem]:
    """«сколько домов с мусоропроводом»: a feature of houses the CRM does not hold. Counting
    all houses instead would be a broader answer than asked, so it is reported."""
    tokens = tagged.tokens
    free = set(tagged.free) - {m.start for m in tagged.texts}
    out: list[Problem] = []
    for i in sorted(free):
        word = tokens[i].text
        if i == 0 or tokens[i - 1].text not in _WITH or (i - 1) not in free:
            continue
        if not _CYRILLIC.fullmatch(word) or word in reported:
            continue
        # «с X»: X unknown, or a known noun in the instrumental no filter took («дома с
        # домофоном»); «без X», «не X», «нет X»: any X no filter took («дома без графика»,
        # «где не указан тип» are not every house — a known word is no excuse to drop it).
        parses = morph.parse(word)[:1]
        negation = tokens[i - 1].text in ("не", "нет")
        kinds = _NEGATED if negation else ("NOUN", "ADJF")
        if not parses or parses[0].tag.POS not in kinds:
            continue
        lack = tokens[i - 1].text in _LACK
        known_not_instrumental = word not in tagged.unknown and "ablt" not in parses[0].tag
        if not lack and known_not_instrumental:
            continue
        if not lack and word not in tagged.unknown and i + 1 < len(tokens) and (i + 1) not in free:
            continue  # «с числом подъездов больше 6»: the word heads a filter that was taken
        out.append(Problem(kind="feature", said=f"{tokens[i - 1].source} {tokens[i].source}"))
    return out


def _unknown_streets(
    tagged: Tagged, morph: Morph, vocabulary: frozenset[str], reported: set[str]
) -> list[Problem]:
    """«на улице Мира», «на Садовой»: a street the company has no house on. The words are
    ordinary Russian (мир, садовый), so no unknown-word check catches them, and dropping them
    would count every house instead.

    A word no filter took counts as a street name right after a street word («улице Мира»), or
    when it is an adjective in a street's case right after «на»/«по» («на садовой»). Pronouns,
    comparatives and the grammar's own words («на какой улице», «по всей компании», «улице
    больше») are the question, not a name.
    """
    tokens = tagged.tokens
    free = set(tagged.free) - {m.start for m in tagged.texts}
    out: list[Problem] = []
    for i in sorted(free):
        word = tokens[i].text
        if i == 0 or not _CYRILLIC.fullmatch(word) or word in reported or word in vocabulary:
            continue
        parses = morph.parse(word)[:1]
        tag = parses[0].tag if parses else None
        if tag is not None and ("Apro" in tag or tag.POS == "COMP"):
            continue
        before = tokens[i - 1].text
        if before in STREET_TYPE_WORDS and (i - 1) in free:
            if tag is None or not tag.POS or tag.POS in ("NOUN", "ADJF"):
                out.append(Problem(kind="street", said=tokens[i].source))
            continue
        if before not in _ON or (i - 1) not in free:
            continue
        if (
            tag is not None
            and tag.POS == "ADJF"
            and tag.gender == "femn"
            and tag.case in ("loct", "datv", "gent", "ablt")
        ):
            out.append(Problem(kind="street", said=tokens[i].source))
    return out


#: Prepositions a street follows («на Садовой», «по Садовой»).
_ON = frozenset({"на", "по"})


def _unknown_names(
    tagged: Tagged, tagger: Tagger, morph: Morph, reported: set[str]
) -> list[Problem]:
    """Runs of unknown words in a name's position, as "not found" problems."""
    tokens = tagged.tokens
    free = set(tagged.free) - {m.start for m in tagged.texts}
    unknown = set(tagged.unknown)
    words = [t.text if not t.is_number else "" for t in tokens]
    out: list[Problem] = []
    i = 0
    while i < len(tokens):
        if i not in free or words[i] not in unknown or len(words[i]) < 4:
            i += 1
            continue
        j = i + 1
        # "рога и копыта": unknown words joined by "и" or following each other.
        while (
            j < len(tokens)
            and j in free
            and (
                words[j] in unknown
                or (words[j] == "и" and j + 1 < len(tokens) and words[j + 1] in unknown)
            )
        ):
            j += 1
        before = words[i - 1] if i > 0 else ""
        number_after = j < len(tokens) and tokens[j].is_number and j in free
        said_words = [t.source for t in tokens[i:j]]
        if number_after:
            said_words.append(tokens[j].source)
        said = " ".join(said_words)
        beside_person = any(
            m.kind == "person" and (m.end == i or m.start == j) for m in tagged.mentions
        )
        in_name_position = not beside_person and (
            # «какая управляющая компания даёт нам больше всего домов»: a verb after «УК» says
            # what it does; it is no name of one.
            (before in COMPANY_CUES and not _verb(words[i], morph))
            or number_after
            or any(_name_like(w, morph, tagger) for w in words[i:j] if w != "и")
        )  # a misheard first name next to the surname («ершовой аксаны») is no new name
        if in_name_position and said not in reported:
            if before in COMPANY_CUES:
                kind = "company"
            elif number_after:
                kind = "house"
            else:
                kind = "name"
            out.append(Problem(kind=kind, said=said, near=_nearest(tagger, kind, words[i:j])))
        i = j + (1 if number_after else 0)
    return out


_CYRILLIC = re.compile(r"[а-яё]+(?:-[а-яё]+)*")
_NAME_TAGS = ("Surn", "Name", "Patr", "Geox", "Orgn")


def _name_like(word: str, morph: Morph, tagger: Tagger) -> bool:
    """A word that can only be a name: a surname, first name or place by the dictionary, or a
    word the dictionary does not know (and that is not a known word glued to a preposition,
    «науборку»)."""
    if not _CYRILLIC.fullmatch(word):
        return False  # digits, Latin or symbols: no name the CRM could hold
    parses = morph.parse(word)[:1]
    if parses and parses[0].is_known:
        return any(tag in str(parses[0].tag) for tag in _NAME_TAGS)
    if any(w.startswith(word) for w in tagger.vocabulary if len(w) > len(word)):
        return False  # an abbreviation of a known word: «ближ уборка»
    glued = any(word.startswith(p) and word[len(p) :] in tagger.vocabulary for p in PREPOSITIONS)
    return not glued


def _verb(word: str, morph: Morph) -> bool:
    """A word the dictionary knows as a verb in the present or past («даёт», «дал»)."""
    if not _CYRILLIC.fullmatch(word):
        return False
    parses = morph.parse(word)[:1]
    return bool(parses) and parses[0].is_known and "VERB" in str(parses[0].tag)


def _nearest(tagger: Tagger, kind: str, words: list[str]) -> tuple[str, ...]:
    """Up to three closest names of the kind: companies, streets, or people and streets."""
    phrase = " ".join(w for w in words if w != "и")
    catalog = tagger.catalog
    if kind == "company":
        cores = sorted(
            ((similarity(phrase.replace(" ", ""), core), cid)
             for cid, core in tagger._company_cores.items()),
            reverse=True,
        )  # fmt: skip
        return tuple(catalog.companies[c].name for _, c in cores[:3])
    streets = [e.label for _, e in tagger._street_scores(phrase)[:3]]
    if kind == "house":
        return tuple(streets)
    people = sorted(tagger.near_surnames(phrase))[:3]
    return tuple(people) or tuple(streets)
