"""Every Russian sentence the Telegram layer says itself (answers come from the brain).

Kept in one place so wording is reviewed together and tests can refer to it.
"""

from __future__ import annotations

START = (
    "Здравствуйте! Я помощник по домам, графикам уборки, бригадам, сотрудникам, задачам и "
    "календарю — по данным Bitrix24. Пишите вопрос текстом или отправьте голосовое сообщение."
)
START_EXAMPLES = "Например: «дома бригады 3», «график Пролетарская 112/1», «задачи на завтра»."
HELP_VOICE = (
    "Голосовые сообщения, аудиофайлы и видео-кружки я сначала распознаю и покажу, что "
    "услышал, потом отвечу."
)

REFUSAL = (
    "Извините, этот бот только для сотрудников компании. Ваш Telegram ID: {user_id}. "
    "Передайте его администратору, чтобы он открыл вам доступ."
)
REFUSAL_SHORT = "Нет доступа. Ваш Telegram ID: {user_id}."
GROUP_REFUSAL = (
    "Извините, в этой группе я не отвечаю: мои ответы видят все её участники, поэтому группы "
    "разрешает администратор. ID этой группы: {chat_id}. Передайте его администратору, чтобы "
    "он добавил группу в список разрешённых."
)
GROUP_REFUSAL_SHORT = "В этой группе бот не отвечает. ID группы: {chat_id}."
ADMIN_ONLY = "Эта команда доступна только администраторам."
FLOOD = "Слишком часто — подождите несколько секунд и повторите."

HEARD = "🎙 Распознал: «{text}»"
NOT_HEARD = "Не расслышал, повторите, пожалуйста."
FILE_TOO_BIG = (
    "Файл слишком большой ({size}): Telegram даёт ботам скачивать файлы не больше 20 МБ. "
    "Пришлите запись покороче."
)
TOO_LONG = (
    "Запись длится {duration} — я распознаю записи до {limit}. Запишите, пожалуйста, короче."
)
TOO_LONG_DECODED = (
    "Запись слишком длинная — я распознаю записи до {limit}. Запишите, пожалуйста, короче."
)
FILE_TOO_BIG_LOCAL = (
    "Файл слишком большой ({size}) для записи до {limit}. Пришлите запись покороче."
)
DOWNLOAD_FAILED = "Не удалось скачать файл из Telegram — пришлите его, пожалуйста, ещё раз."
NOT_AUDIO = "Это не похоже на аудио. Пришлите голосовое сообщение или аудиофайл."

LATE = "Отвечаю на сообщение от {time} (бот был недоступен):"

ERROR = "Что-то пошло не так при обработке запроса. Попробуйте ещё раз чуть позже."
BUTTON_QUEUED = "Принято — отвечу, как только закончу с предыдущим запросом."
LIST_EXPIRED = "Этот список устарел — спросите ещё раз."
CHOICE_EXPIRED = "Этот вопрос устарел — спросите ещё раз."
PREVIOUS = "◀️ Назад"
NEXT = "Вперёд ▶️"

COMMANDS = (
    ("start", "Начать работу"),
    ("help", "Что умеет бот и примеры вопросов"),
    ("health", "Состояние бота (для администраторов)"),
)
"""The command menu (setMyCommands): names must be Latin, descriptions are shown to users."""


def seconds_label(seconds: float) -> str:
    """ "45 с", "2 мин 5 с", "3 мин"."""
    total = max(0, round(seconds))
    minutes, rest = divmod(total, 60)
    if minutes == 0:
        return f"{rest} с"
    if rest == 0:
        return f"{minutes} мин"
    return f"{minutes} мин {rest} с"


def size_label(size: int) -> str:
    """ "25 МБ", "850 КБ"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} МБ"
    return f"{max(1, size // 1024)} КБ"
