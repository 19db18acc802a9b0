"""`bot.paging`: splitting under Telegram's limit (UTF-16 units) and paging list answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.paging import MESSAGE_LIMIT, page_counter, paginate, split_text, utf16_len
from handlers.keyboards import ChoiceButton, KeyboardStore, PageButton, PagedList

EMOJI = "🏠"  # two UTF-16 units

words = st.text(
    alphabet=st.sampled_from([*"абвгдеёжз <&_*123", EMOJI, "\n"]), min_size=0, max_size=40
)


def test_utf16_counts_emoji_twice() -> None:
    assert utf16_len("дом") == 3
    assert utf16_len(EMOJI) == 2


def test_short_text_is_one_chunk() -> None:
    assert split_text("  дома бригады 3  ") == ["дома бригады 3"]
    assert split_text("   ") == []


def test_split_prefers_paragraphs_then_lines_then_spaces() -> None:
    text = "первый абзац\n\nвторой абзац"
    assert split_text(text, limit=20) == ["первый абзац", "второй абзац"]
    assert split_text("одна строка\nдругая строка", limit=15) == ["одна строка", "другая строка"]
    assert split_text("слово слово слово", limit=12) == ["слово слово", "слово"]


def test_a_word_longer_than_the_limit_is_cut_hard_but_not_inside_an_emoji() -> None:
    chunks = split_text(EMOJI * 5, limit=3)
    assert all(utf16_len(c) <= 3 for c in chunks)
    assert "".join(chunks) == EMOJI * 5


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=0, max_size=200), st.integers(min_value=4, max_value=300))
def test_split_never_exceeds_the_limit_and_loses_nothing(parts: list[str], limit: int) -> None:
    text = " ".join(parts)
    chunks = split_text(text, limit=limit)
    assert all(chunk and utf16_len(chunk) <= limit for chunk in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


def test_pages_hold_at_most_25_lines_and_repeat_the_header() -> None:
    items = [f"• Улица {n}" for n in range(1, 93)]
    pages = paginate("Бригада 3: 92 дома.", items, footer="конец", note="⚠️ старые данные")
    assert len(pages) == 4
    for number, page in enumerate(pages, start=1):
        assert page.startswith("Бригада 3: 92 дома.\n")
        assert page.endswith(page_counter(number, 4))
        assert "⚠️ старые данные" in page
        assert sum(line.startswith("• ") for line in page.splitlines()) <= 25
    assert "конец" in pages[-1]
    assert all("конец" not in p for p in pages[:-1])
    shown = [line for page in pages for line in page.splitlines() if line.startswith("• ")]
    assert shown == items


def test_a_single_page_has_no_counter() -> None:
    [page] = paginate("Два дома.", ["• а", "• б"])
    assert page == "Два дома.\n• а\n• б"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=600).map(lambda s: "• " + s), min_size=1, max_size=120),
    st.text(max_size=300),
    st.text(max_size=200),
)
def test_every_item_on_exactly_one_page_within_the_limit(
    items: list[str], header: str, note: str
) -> None:
    items = [i.replace("\n", " ") for i in items]
    pages = paginate(header.replace("\n", " ") or "Список", items, note=note.replace("\n", " "))
    assert all(utf16_len(page) <= MESSAGE_LIMIT for page in pages)
    assert len(pages) >= -(-len(items) // 25)


def test_a_tiny_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        paginate("x" * 30, ["• a"], note="y" * 50, limit=60)


def test_callback_data_fits_64_bytes() -> None:
    store = KeyboardStore()
    key = store.put(PagedList(("a", "b")))
    assert len(PageButton(key=key, page=9999).pack().encode()) <= 64
    assert len(ChoiceButton(key=key, index=99).pack().encode()) <= 64


def test_keyboard_store_is_bounded_and_expires() -> None:
    now = [0.0]
    store = KeyboardStore(max_entries=3, ttl_s=10.0, clock=lambda: now[0])
    keys = [store.put(PagedList((str(n),))) for n in range(5)]
    assert len(store) == 3
    assert store.get(keys[0], PagedList) is None
    assert store.get(keys[4], PagedList) == PagedList(("4",))
    now[0] = 11.0
    assert store.get(keys[4], PagedList) is None
