"""Conversations through real aiogram polling, the fake Bot API and the emulated portal."""

from __future__ import annotations

import re
from typing import Any

import httpx

from bot.paging import MESSAGE_LIMIT, utf16_len
from handlers import texts
from tests.bot.harness import GROUP, OTHER_USER, SPECIAL_TITLE, USER, BotUnderTest
from tests.fakes.telegram import BotMessage

MAX_PAGES = 50


async def rest(webhook: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One raw REST call to the portal (plain httpx, none of our Bitrix code)."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.post(f"{webhook}{method}", json=params)
    response.raise_for_status()
    payload: dict[str, Any] = response.json()
    return payload


async def brigade_addresses(webhook: str, brigade: int) -> set[str]:
    """The titles of the active houses of a brigade, from raw REST answers.

    The demo portal ties a house to its brigade through the responsible user, a service
    account named like the brigade (``NAME="3"``, ``LAST_NAME="бригада"`` or ``"3 бригада"``);
    the houses pipeline is the deal category «Уборка подъездов»; closed houses are in a lost
    stage (``STAGE_SEMANTIC_ID="F"``).
    """
    users = (await rest(webhook, "user.get", {"ACTIVE": True}))["result"]
    start = 50
    for _ in range(MAX_PAGES):
        if len(users) < start:
            break
        page = await rest(webhook, "user.get", {"ACTIVE": True, "start": start})
        users += page["result"]
        start += 50
    pattern = re.compile(rf"^(?:{brigade}\s+бригада|бригада\s+{brigade})$", re.IGNORECASE)
    [service] = [
        u
        for u in users
        if pattern.match(" ".join(f"{u.get('NAME', '')} {u.get('LAST_NAME', '')}".split()))
    ]
    categories = (await rest(webhook, "crm.category.list", {"entityTypeId": 2}))["result"]
    [houses] = [c["id"] for c in categories["categories"] if c["name"] == "Уборка подъездов"]
    titles: set[str] = set()
    params: dict[str, Any] = {
        "filter": {"CATEGORY_ID": houses, "ASSIGNED_BY_ID": service["ID"]},
        "select": ["ID", "TITLE", "STAGE_SEMANTIC_ID"],
    }
    for _ in range(MAX_PAGES):
        page = await rest(webhook, "crm.deal.list", params)
        titles |= {d["TITLE"] for d in page["result"] if d["STAGE_SEMANTIC_ID"] != "F"}
        if "next" not in page:
            break
        params["start"] = page["next"]
    return titles


async def turn_page(running: BotUnderTest, message: BotMessage, label: str) -> BotMessage | None:
    """Press the button ``label`` on a paged message; its new state, or None without one."""
    buttons = [data for text, data in message.buttons if text == label]
    if not buttons:
        return None
    edits = len(message.history)
    event = await running.fake.press_button(USER, message, buttons[0])

    def edited() -> BotMessage | None:
        current = running.fake.message(message.chat_id, message.message_id)
        return current if len(current.history) > edits else None

    turned = await running.fake.wait_for(edited, running.timeout, description="a page turn")
    assert event.callback_query_id in running.fake.callback_answers
    return turned


def house_lines(message: BotMessage) -> list[str]:
    """The "• address" lines of a list answer."""
    return [line[2:] for line in message.text.splitlines() if line.startswith("• ")]


async def test_start_greets_with_examples(running: BotUnderTest) -> None:
    reply, offer = await running.say(USER, "/start", count=2)
    assert reply.text == f"{texts.START}\n\n{texts.START_EXAMPLES}"
    assert reply.parse_mode is None
    # Allowed but not signed in: the sign-in button is offered (for «мои задачи», the digest).
    assert offer.text == texts.SIGNIN_OPTIONAL
    assert offer.reply_markup is not None and "keyboard" in offer.reply_markup
    # The menu was published for Russian clients and as the default.
    for language in ("ru", ""):
        names = [c["command"] for c in running.fake.commands(language_code=language)]
        assert names == ["start", "help", "health", "digest", "forget"]


async def test_help_lists_the_brains_examples(running: BotUnderTest) -> None:
    [reply] = await running.say(USER, "/help")
    assert "«дома бригады 3»" in reply.text
    assert texts.HELP_VOICE in reply.text


async def test_brigade_houses_are_exactly_the_portals(running: BotUnderTest) -> None:
    expected = await brigade_addresses(running.portal.webhook_url, 3)
    assert SPECIAL_TITLE in expected
    assert len(expected) > 25  # so the answer is paged

    [first] = await running.say(USER, "дома бригады 3")
    assert first.text.startswith(f"Бригада 3: {len(expected)} дом")
    shown = house_lines(first)
    message = first
    pages = 1
    for _ in range(MAX_PAGES):
        turned = await turn_page(running, message, texts.NEXT)
        if turned is None:
            break
        message = turned
        shown += house_lines(message)
        pages += 1
        assert utf16_len(message.text) <= MESSAGE_LIMIT
        assert len(house_lines(message)) <= 25
    assert pages == -(-len(expected) // 25)
    assert f"Стр. {pages} из {pages}" in message.text
    # Every address exactly once, and nothing the portal does not hold.
    assert sorted(shown) == sorted(expected)


async def test_paging_back_and_a_repeated_press(running: BotUnderTest) -> None:
    [first] = await running.say(USER, "дома бригады 3")
    page_one = first.text
    [(_, forward)] = [b for b in first.buttons if b[0] == texts.NEXT]
    await running.fake.press_button(USER, first, forward)
    await running.fake.wait_for(
        lambda: len(running.fake.message(USER, first.message_id).history) == 1
    )
    current = running.fake.message(USER, first.message_id)
    assert "Стр. 2 из" in current.text
    # The same page again (a double tap): Telegram says "message is not modified"; the bot
    # treats it as done and still answers the button press.
    press = await running.fake.press_button(USER, current, forward, strict=False)
    await running.fake.wait_for(lambda: press.callback_query_id in running.fake.callback_answers)
    edits = running.fake.calls("editMessageText")
    await running.fake.wait_for(lambda: all(r.completed for r in edits) or None)
    [(_, back)] = [b for b in current.buttons if b[0] == texts.PREVIOUS]
    await running.fake.press_button(USER, current, back)
    await running.fake.wait_for(
        lambda: running.fake.message(USER, first.message_id).text == page_one
    )
    # No error reached the user; only the three pages' worth of messages exist.
    assert [m.message_id for m in running.fake.sent_messages(USER)] == [first.message_id]


async def test_a_button_press_answered_too_late_still_turns_the_page(
    running: BotUnderTest,
) -> None:
    [page] = await running.say(USER, "дома бригады 3")
    [(_, forward)] = [b for b in page.buttons if b[0] == texts.NEXT]
    # What Telegram says once a callback query was answered already or has timed out.
    running.fake.fail_next(
        "answerCallbackQuery",
        description="Bad Request: query is too old and response timeout expired or query ID "
        "is invalid",
    )
    await running.fake.press_button(USER, page, forward)
    await running.fake.wait_for(
        lambda: running.fake.message(USER, page.message_id).history or None,
        running.timeout,
        description="the page turned",
    )
    [refused] = running.fake.calls("answerCallbackQuery")
    assert refused.status == 400
    assert "Стр. 2 из" in running.fake.message(USER, page.message_id).text
    # No apology for a failure that did not happen.
    [after] = await running.say(USER, "дома бригады 1")
    assert after.text.startswith("Бригада 1:")
    assert [m.message_id for m in running.fake.sent_messages(USER)] == [
        page.message_id,
        after.message_id,
    ]


async def test_clarifying_question_answered_by_a_button(running: BotUnderTest) -> None:
    [question] = await running.say(USER, "график Ленина")
    labels = [label for label, _ in question.buttons]
    assert labels == ["1. Кондрово, Ленина", "2. Ленина"]
    assert question.text.endswith("Выберите вариант кнопкой или уточните запрос.")
    press = await running.fake.press_button(USER, question, button_text="2. Ленина")
    [answer] = await running.fake.wait_for_messages(
        USER, 1, running.timeout, since=question.message_id
    )
    assert press.callback_query_id in running.fake.callback_answers
    assert answer.text.startswith("Улица Ленина")
    lines = house_lines(answer)
    assert lines
    assert all(line.startswith("Ленина ") for line in lines)
    # The other button still works: one may try each option.
    await running.fake.press_button(USER, question, button_text="1. Кондрово, Ленина")
    _, second = await running.fake.wait_for_messages(
        USER, 2, running.timeout, since=question.message_id
    )
    assert "Кондрово" in second.text


async def test_special_characters_in_addresses_arrive_intact(running: BotUnderTest) -> None:
    [reply] = await running.say(USER, f"график {SPECIAL_TITLE}")
    # Whatever the brain made of it, the text went out as plain text and unchanged.
    assert SPECIAL_TITLE in reply.text
    assert reply.parse_mode is None
    assert reply.raw_text == reply.text
    send = running.fake.calls("sendMessage")
    assert all(r.ok for r in send), [r.summary() for r in send if not r.ok]


async def test_special_address_in_a_paged_list(running: BotUnderTest) -> None:
    [first] = await running.say(USER, "дома бригады 3")
    message: BotMessage | None = first
    seen: list[str] = []
    for _ in range(MAX_PAGES):
        if message is None:
            break
        seen += house_lines(message)
        message = await turn_page(running, message, texts.NEXT)
    assert SPECIAL_TITLE in seen
    assert all(r.ok for r in running.fake.calls("editMessageText"))


async def test_follow_up_keeps_the_context_per_chat(running: BotUnderTest) -> None:
    await running.say(USER, "дома бригады 3")
    [reply] = await running.say(USER, "а пятой?")
    assert reply.text.startswith("Бригада 5:")


async def test_a_long_answer_is_split_under_the_limit(running: BotUnderTest) -> None:
    # Every employee with phone: one message per ~4096 units, or pages; never over the limit.
    replies = await running.say(USER, "сотрудники")
    for reply in replies:
        assert utf16_len(reply.text) <= MESSAGE_LIMIT


async def test_in_a_group_only_messages_for_the_bot_are_answered(running: BotUnderTest) -> None:
    group = GROUP
    assert group in running.settings.allowed_chat_ids
    fake = running.fake
    chatter = await fake.send_text(USER, "дома бригады 3 уже убрали?", chat_id=group)
    asked = await fake.send_text(USER, "@audiobot_test_bot дома бригады 3", chat_id=group)
    [answer] = await running.answers(asked)
    assert answer.text.startswith("Бригада 3:")
    assert [m.message_id for m in fake.sent_messages(group)] == [answer.message_id]
    assert answer.message_id > (chatter.message_id or 0)
    # A reply to the bot is addressed to it; the follow-up context belongs to that person.
    other = await fake.send_text(OTHER_USER, "а пятой?", chat_id=group, reply_to=answer)
    [follow_up] = await running.answers(other)
    houses_of_five = re.compile(r"^Бригада 5: \d+ дом")
    # Without USER's context "а пятой?" is not "houses of the fifth" for OTHER_USER.
    assert not houses_of_five.match(follow_up.text)
    mine = await fake.send_text(USER, "а пятой?", chat_id=group, reply_to=answer)
    [own_follow_up] = await running.answers(mine)
    assert houses_of_five.match(own_follow_up.text)
