"""Everything that can go wrong when AudioBot talks to Bitrix24, as one exception hierarchy.

Modelled on httpx's hierarchy: catch ``BitrixError`` for "Bitrix24 failed", or a branch for a
specific reaction (``BitrixTransportError`` → "try later", ``BitrixAuthError`` → "fix the
webhook")::

    BitrixError                          any failure talking to Bitrix24
    ├── BitrixConfigError                the webhook URL itself is malformed (also a ValueError)
    ├── BitrixMappingError               the portal's data cannot be mapped to houses (no houses
    │                                    pipeline, a configured field that does not exist)
    │   └── BitrixImplausibleData        a refresh shrank the company implausibly; held back
    │                                    (`bitrix.cache`) until an admin accepts it
    ├── BitrixWriteUnconfirmed           a write's answer was lost and the lookup by its
    │                                    idempotency marker found nothing, or failed itself
    ├── BitrixTransportError             no HTTP answer at all
    │   ├── BitrixConnectError           cannot connect (DNS, refused, TLS, connect timeout)
    │   ├── BitrixTimeoutError           connected, but no answer within the timeout
    │   └── BitrixConnectionDropped      the connection closed before a full answer
    ├── BitrixHTTPError                  an HTTP answer that is not a Bitrix JSON envelope
    │   ├── BitrixPortalMoved            3xx redirect: the portal's domain was renamed
    │   └── BitrixBadResponse            non-JSON body: edge HTML 502, 403/500 HTML pages, junk
    └── BitrixAPIError                   a Bitrix JSON error {"error", "error_description"}
        ├── BitrixAuthError              the webhook is not accepted (401)
        │   ├── BitrixInvalidCredentials INVALID_CREDENTIALS, NO_AUTH_FOUND, expired/invalid token
        │   ├── BitrixUserDeactivated    authorization_error: the webhook's owner is fired
        │   ├── BitrixHttpsRequired      INVALID_REQUEST "Https required."
        │   └── BitrixPaymentRequired    PAYMENT_REQUIRED: the subscription ended
        ├── BitrixInsufficientScope      insufficient_scope (names the missing scope)
        ├── BitrixAccessDenied           ACCESS_DENIED, WRONG_AUTH_TYPE, user_access_error,
        │                                ALLOWED_ONLY_INTRANET_USER, METHOD_CONFIRM_*,
        │                                classic "Access denied"
        ├── BitrixPortalDeleted          PORTAL_DELETED
        ├── BitrixMethodNotFound         ERROR_METHOD_NOT_FOUND
        ├── BitrixLimitError             a rate or load limit
        │   ├── BitrixQueryLimitExceeded QUERY_LIMIT_EXCEEDED (503; the call did not run)
        │   ├── BitrixOperationTimeLimit OPERATION_TIME_LIMIT (429; per-method time budget)
        │   └── BitrixOverloaded         OVERLOAD_LIMIT (503; REST blocked by support)
        ├── BitrixServerError            INTERNAL_SERVER_ERROR, ERROR_UNEXPECTED_ANSWER,
        │                                WRONG_ENCODING, ERROR_CORE with 5xx, any other 5xx code
        ├── BitrixBatchError             ERROR_BATCH_LENGTH_EXCEEDED,
        │                                ERROR_BATCH_METHOD_NOT_ALLOWED
        └── BitrixRequestError           the call was rejected: ERROR_ARGUMENT, ERROR_CORE (400),
            │                            classic CRM "" errors, INVALID_REQUEST, unknown codes
            └── BitrixNotFound           classic CRM "Not found" / ERROR_NOT_FOUND

Every exception carries ``method`` (the Bitrix method, lower-case), ``code`` (Bitrix's ``error``
string; ``None`` when there was no Bitrix answer), ``status`` (HTTP status; ``None`` for
transport failures and for batch sub-command errors, which arrive inside an HTTP 200),
``description`` (sanitized), ``user_message`` (one short Russian sentence for the bot's users)
and ``admin_hint`` (a precise Russian hint for the portal admin). ``str(exc)`` is an English
operator line with method, code and status.

Secrets: the webhook URL embeds the webhook's secret code. Descriptions pass through
:func:`redact`, and the client raises these exceptions *outside* its ``except`` blocks so that
neither ``__cause__`` nor ``__context__`` holds the httpx exception (whose ``request`` carries
the full URL); a sanitized one-line description of the cause is kept in ``cause``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

__all__ = [
    "WEBHOOK_SETTINGS_PATH",
    "BitrixAPIError",
    "BitrixAccessDenied",
    "BitrixAuthError",
    "BitrixBadResponse",
    "BitrixBatchError",
    "BitrixConfigError",
    "BitrixConnectError",
    "BitrixConnectionDropped",
    "BitrixError",
    "BitrixHTTPError",
    "BitrixHttpsRequired",
    "BitrixInsufficientScope",
    "BitrixInvalidCredentials",
    "BitrixLimitError",
    "BitrixMappingError",
    "BitrixMethodNotFound",
    "BitrixNotFound",
    "BitrixOperationTimeLimit",
    "BitrixOverloaded",
    "BitrixPaymentRequired",
    "BitrixPortalDeleted",
    "BitrixPortalMoved",
    "BitrixQueryLimitExceeded",
    "BitrixRequestError",
    "BitrixServerError",
    "BitrixTimeoutError",
    "BitrixTransportError",
    "BitrixUserDeactivated",
    "BitrixWriteUnconfirmed",
    "api_error",
    "redact",
    "scope_for_method",
]

#: Where a portal admin edits an incoming webhook (Russian UI of Bitrix24).
WEBHOOK_SETTINGS_PATH = "Bitrix24 → Разработчикам → Другое → Входящий вебхук"

_WEBHOOK_PATH = re.compile(r"(/rest/(?:api/)?\d+/)([^/\s\"'?#<>]+)")
_MAX_DESCRIPTION = 300


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove webhook secrets from ``text``: the code in ``/rest/<uid>/<code>`` and ``secrets``.

    Used on every description that may echo a URL (httpx messages, HTML error pages, a
    redirect's Location) before it reaches an exception, a log line or a user.
    """
    cleaned = _WEBHOOK_PATH.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "***")
    return cleaned


# Scope → what the bot loses without it, in the dative for «Нет доступа к …».
_SCOPE_AREAS: dict[str, str] = {
    "crm": "CRM (дома и управляющие компании)",
    "task": "задачам",
    "user": "списку сотрудников",
    "user_basic": "списку сотрудников",
    "user_brief": "списку сотрудников",
    "department": "структуре компании (бригады)",
    "calendar": "календарю",
    "disk": "Диску (файлам)",
}
_SCOPE_TITLES: dict[str, str] = {
    "crm": "CRM",
    "task": "Задачи",
    "user": "Пользователи",
    "department": "Структура компании",
    "calendar": "Календарь",
    "disk": "Диск",
}
_SCOPE_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("crm.", "crm"),
    ("tasks.", "task"),
    ("task.", "task"),
    ("user.", "user"),
    ("department.", "department"),
    ("calendar.", "calendar"),
    ("disk.", "disk"),
)


def scope_for_method(method: str | None) -> str | None:
    """The webhook scope a REST method needs (``tasks.task.list`` → ``task``), if known."""
    if not method:
        return None
    name = method.lower()
    for prefix, scope in _SCOPE_BY_PREFIX:
        if name.startswith(prefix):
            return scope
    head = name.split(".", 1)[0]
    return head if "." in name else None


def _area(method: str | None) -> str:
    scope = scope_for_method(method)
    if scope is None:
        return "данным Bitrix24"
    return _SCOPE_AREAS.get(scope, f"разделу «{scope}»")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


class BitrixError(Exception):
    """Base of every Bitrix24 failure. See the module docstring for the tree and attributes."""

    #: A short English name of the failure for the operator line when there is no Bitrix code.
    kind: ClassVar[str] = "Bitrix24 error"
    default_user_message: ClassVar[str] = "Не удалось получить данные из Bitrix24."
    default_admin_hint: ClassVar[str] = (
        "Неожиданная ошибка при обращении к Bitrix24; подробности в журнале бота."
    )

    method: str | None
    code: str | None
    status: int | None
    description: str
    cause: str | None
    user_message: str
    admin_hint: str

    def __init__(
        self,
        description: str = "",
        *,
        method: str | None = None,
        code: str | None = None,
        status: int | None = None,
        cause: str | None = None,
        user_message: str | None = None,
        admin_hint: str | None = None,
    ) -> None:
        self.method = method.lower() if method else None
        self.code = code
        self.status = status
        self.description = _clip(redact(description))
        self.cause = _clip(redact(cause)) if cause else None
        self.user_message = user_message or self._user_message()
        self.admin_hint = admin_hint or self._admin_hint()
        super().__init__(self._operator_line())

    def _user_message(self) -> str:
        return self.default_user_message

    def _admin_hint(self) -> str:
        return self.default_admin_hint

    def _operator_line(self) -> str:
        parts = [self.method or "bitrix"]
        head = self._code_label()
        if self.status is not None:
            head += f" (HTTP {self.status})"
        parts.append(head)
        line = ": ".join(parts)
        if self.description:
            line += f": {self.description}"
        if self.cause and self.cause != self.description:
            line += f" [cause: {self.cause}]"
        return line

    def _code_label(self) -> str:
        return self.code or self.kind

    def __str__(self) -> str:
        return self._operator_line()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, code={self.code!r}, "
            f"status={self.status!r}, description={self.description!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: teach pickle/copy how to rebuild us (multiprocessing, copy).
        return (
            _rebuild,
            (type(self), self.description, self._state()),
        )

    def with_user_message(self, user_message: str) -> BitrixError:
        """A copy of this error (same class and details) saying ``user_message`` to users.

        For callers that know more than the transport does, e.g. that a refused write left
        nothing behind (`bitrix.writes`).
        """
        return _rebuild(
            type(self), self.description, {**self._state(), "user_message": user_message}
        )

    def _state(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "code": self.code,
            "status": self.status,
            "cause": self.cause,
            "user_message": self.user_message,
            "admin_hint": self.admin_hint,
        }


def _rebuild(cls: type[BitrixError], description: str, state: dict[str, Any]) -> BitrixError:
    return cls(description, **state)


class BitrixConfigError(BitrixError, ValueError):
    """The webhook URL is not of the form ``https://PORTAL/rest/USER_ID/CODE/``."""

    kind = "invalid webhook URL"
    default_user_message = "Bitrix24 не настроен."
    default_admin_hint = (
        "BITRIX_WEBHOOK_URL должен иметь вид https://ПОРТАЛ.bitrix24.ru/rest/ID/КОД/ — "
        f"скопируйте его из настроек вебхука ({WEBHOOK_SETTINGS_PATH})."
    )


class BitrixWriteUnconfirmed(BitrixError):
    """A write may or may not have reached Bitrix24, and looking it up did not settle it.

    Raised by `bitrix.writes` after a timeout, dropped connection or 5xx on a write, when the
    lookup by the write's idempotency ``key`` found no object (the write may still land: look
    again before writing again) or could not run. ``kind`` is what was written (``task``,
    ``comment``, ``event``, ``file``).
    """

    kind = "write unconfirmed"
    default_user_message = "Ответ Bitrix24 не дошёл; записано ли что-то, пока неизвестно."
    default_admin_hint = (
        "Запись в Bitrix24 осталась без ответа (таймаут, обрыв связи или ошибка 5xx), и поиск "
        "по её метке [audiobot:…] ничего не дал; повтор с тем же ключом сначала ищет снова, "
        "дубля не будет."
    )

    key: str | None
    write_kind: str | None

    def __init__(
        self,
        description: str = "",
        *,
        key: str | None = None,
        write_kind: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.key = key
        self.write_kind = write_kind
        super().__init__(description, **kwargs)

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "key": self.key, "write_kind": self.write_kind}


# --- transport ----------------------------------------------------------------------------


class BitrixMappingError(BitrixError):
    """The portal answered, but its data cannot be read as the company's houses.

    Raised by the field mapping (`bitrix.mapping`): the houses pipeline cannot be found, or a
    configured field code does not exist. ``admin_hint`` says what to configure.
    """

    kind = "field mapping error"
    default_user_message = "Данные в Bitrix24 настроены не так, как ожидает бот."
    default_admin_hint = "Проверьте настройки воронки и полей (audiobot fields)."


class BitrixImplausibleData(BitrixMappingError):
    """A refresh that would shrink the company implausibly (`bitrix.cache.implausible_change`).

    The portal answered, but with far fewer houses or people, or with a required field gone
    from most houses — what a permission change or a broken filter looks like. The last good
    snapshot keeps serving; ``reasons`` are English operator lines.
    """

    kind = "implausible refresh held back"
    default_user_message = (
        "Bitrix24 прислал неполные данные, поэтому отвечаю по последним проверенным."
    )
    default_admin_hint = (
        "Если компания действительно так изменилась, примите новые данные: audiobot snapshot "
        "accept (применится при следующем обновлении); иначе проверьте права вебхука."
    )


class BitrixTransportError(BitrixError):
    """No HTTP answer at all. Retried automatically for read methods."""

    kind = "transport error"
    default_user_message = "Bitrix24 сейчас недоступен, попробуйте позже."
    default_admin_hint = (
        "Нет связи с порталом Bitrix24: проверьте сеть сервера бота и адрес портала в "
        "BITRIX_WEBHOOK_URL."
    )


class BitrixConnectError(BitrixTransportError):
    """Could not connect: DNS failure, connection refused, TLS failure, connect timeout."""

    kind = "connection failed"
    default_admin_hint = (
        "Не удаётся подключиться к порталу Bitrix24: проверьте адрес портала в "
        "BITRIX_WEBHOOK_URL, DNS и доступ сервера бота в интернет."
    )


class BitrixTimeoutError(BitrixTransportError):
    """Connected, but the portal did not answer within the client's timeout."""

    kind = "timed out"
    default_user_message = "Bitrix24 не ответил вовремя, попробуйте позже."
    default_admin_hint = (
        "Портал Bitrix24 не ответил за отведённое время (BITRIX_TIMEOUT). Если повторяется — "
        "портал перегружен или запрос слишком тяжёлый."
    )


class BitrixConnectionDropped(BitrixTransportError):
    """The connection closed before a complete answer arrived."""

    kind = "connection dropped"
    default_user_message = "Связь с Bitrix24 прервалась, попробуйте ещё раз."
    default_admin_hint = (
        "Портал Bitrix24 или прокси оборвал соединение без ответа. Если повторяется — "
        "проверьте сеть и прокси между ботом и порталом."
    )


# --- HTTP answers that are not Bitrix envelopes ---------------------------------------------


class BitrixHTTPError(BitrixError):
    """An HTTP answer that is not a Bitrix JSON envelope."""

    kind = "unexpected HTTP answer"
    default_user_message = "Bitrix24 сейчас недоступен, попробуйте позже."


class BitrixPortalMoved(BitrixHTTPError):
    """A 3xx redirect: the portal's domain was renamed (Bitrix answers 302 for the old one).

    ``location_host`` is the host the portal now answers on (never the full Location, which
    repeats the webhook's secret path).
    """

    kind = "portal moved"
    default_user_message = "Bitrix24 сейчас недоступен: портал сменил адрес."

    location_host: str | None

    def __init__(
        self, description: str = "", *, location_host: str | None = None, **kwargs: Any
    ) -> None:
        self.location_host = location_host
        super().__init__(description, **kwargs)

    def _admin_hint(self) -> str:
        where = f" на {self.location_host}" if self.location_host else ""
        return (
            f"Портал Bitrix24 переехал{where}: замените адрес портала в BITRIX_WEBHOOK_URL "
            f"(путь /rest/ID/КОД/ остаётся прежним) и перезапустите бота."
        )

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "location_host": self.location_host}


class BitrixBadResponse(BitrixHTTPError):
    """The answer was not JSON (an HTML error page from an edge proxy, a 403/500 page, junk).

    ``content_type`` is the answer's Content-Type; ``description`` a sanitized text snippet.
    """

    kind = "non-JSON answer"

    content_type: str | None

    def __init__(
        self, description: str = "", *, content_type: str | None = None, **kwargs: Any
    ) -> None:
        self.content_type = content_type
        super().__init__(description, **kwargs)

    def _admin_hint(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "ответ"
        if self.status == 403:
            return (
                f"Портал ответил {status} без JSON (страница прокси или защиты): проверьте, что "
                "IP сервера бота не заблокирован и адрес портала в BITRIX_WEBHOOK_URL верен."
            )
        return (
            f"Портал ответил {status} не в формате JSON ({self.content_type or 'без типа'}): "
            "обычно это временный сбой Bitrix24 или прокси. Если повторяется — проверьте адрес "
            "портала в BITRIX_WEBHOOK_URL."
        )

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "content_type": self.content_type}


# --- Bitrix JSON errors --------------------------------------------------------------------


class BitrixAPIError(BitrixError):
    """A Bitrix JSON error answer (or a batch sub-command's entry in ``result_error``).

    ``extra`` holds any additional keys of the error body (e.g. ``argument`` for
    ``ERROR_ARGUMENT``).
    """

    kind = "API error"
    default_user_message = "Bitrix24 вернул ошибку, попробуйте позже."
    # Empty: subclasses with a fixed hint set it; otherwise the generic hint below names the code.
    default_admin_hint = ""

    extra: dict[str, Any]

    def __init__(
        self,
        description: str = "",
        *,
        extra: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.extra = dict(extra or {})
        super().__init__(description, **kwargs)

    def _code_label(self) -> str:
        # Classic crm.* errors have an empty code; show it rather than a blank.
        return '""' if self.code == "" else super()._code_label()

    def _admin_hint(self) -> str:
        if self.default_admin_hint:
            return self.default_admin_hint
        return (
            f"Bitrix24 вернул ошибку {self.code or '(без кода)'} на метод {self.method}: "
            f"{self.description or 'без описания'}."
        )

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "extra": self.extra}


class BitrixAuthError(BitrixAPIError):
    """The portal does not accept the webhook (HTTP 401)."""

    default_user_message = "Бот не может войти в Bitrix24: вебхук не принят."


class BitrixInvalidCredentials(BitrixAuthError):
    """Wrong, deleted or expired webhook (INVALID_CREDENTIALS, NO_AUTH_FOUND, token errors)."""

    default_user_message = "Бот не может войти в Bitrix24: вебхук недействителен."
    default_admin_hint = (
        "Вебхук неверный, удалён или истёк: создайте новый входящий вебхук "
        f"({WEBHOOK_SETTINGS_PATH}) с правами crm, user, department, task, calendar и "
        "укажите его адрес в BITRIX_WEBHOOK_URL."
    )


class BitrixUserDeactivated(BitrixAuthError):
    """authorization_error: the employee who created the webhook is deactivated or fired."""

    default_user_message = "Бот не может войти в Bitrix24: сотрудник, создавший вебхук, отключён."
    default_admin_hint = (
        "Сотрудник, от имени которого создан вебхук, уволен или деактивирован: создайте "
        f"вебхук от имени действующего сотрудника ({WEBHOOK_SETTINGS_PATH}) и обновите "
        "BITRIX_WEBHOOK_URL."
    )


class BitrixHttpsRequired(BitrixAuthError):
    """INVALID_REQUEST "Https required.": the webhook was called over plain HTTP."""

    default_user_message = "Bitrix24 не настроен: нужен адрес https."
    default_admin_hint = (
        "Портал принимает вебхуки только по HTTPS: BITRIX_WEBHOOK_URL должен начинаться с "
        "https://."
    )


class BitrixPaymentRequired(BitrixAuthError):
    """PAYMENT_REQUIRED: the portal's subscription has ended."""

    default_user_message = "Bitrix24 недоступен: подписка портала закончилась."
    default_admin_hint = (
        "Подписка портала Bitrix24 закончилась (PAYMENT_REQUIRED): продлите тариф."
    )


class BitrixInsufficientScope(BitrixAPIError):
    """insufficient_scope: the webhook lacks the scope ``scope`` that ``method`` needs."""

    @property
    def scope(self) -> str | None:
        """The missing scope, derived from the method (``tasks.task.list`` → ``task``)."""
        return scope_for_method(self.method)

    def _user_message(self) -> str:
        return f"Нет доступа к {_area(self.method)} в Bitrix24."

    def _admin_hint(self) -> str:
        scope = self.scope
        if scope is None:
            return (
                f"Вебхуку не хватает прав на метод {self.method}: добавьте нужное право "
                f"({WEBHOOK_SETTINGS_PATH} → Права доступа) и сохраните."
            )
        title = _SCOPE_TITLES.get(scope)
        named = f'"{scope}" ({title})' if title else f'"{scope}"'
        return (
            f"Добавьте право {named} вебхуку: {WEBHOOK_SETTINGS_PATH} → Права доступа, "
            f"затем сохраните (нужно для метода {self.method}; адрес вебхука не меняется)."
        )


class BitrixAccessDenied(BitrixAPIError):
    """The webhook's owner may not do this (ACCESS_DENIED and relatives)."""

    def _user_message(self) -> str:
        if "commercial" in self.description.lower():
            return "Bitrix24 не даёт доступ к данным на текущем тарифе."
        return f"Нет доступа к {_area(self.method)} в Bitrix24."

    def _admin_hint(self) -> str:
        if "commercial" in self.description.lower():
            return (
                "REST API Bitrix24 доступен только на коммерческих тарифах: смените тариф портала."
            )
        return (
            f"Сотруднику, создавшему вебхук, не хватает прав на {self.method} "
            f"({self.code or 'Access denied'}): выдайте ему права на эти данные в Bitrix24 "
            f"или создайте вебхук от имени сотрудника с нужными правами ({WEBHOOK_SETTINGS_PATH})."
        )


class BitrixPortalDeleted(BitrixAPIError):
    """PORTAL_DELETED: the portal was deleted or its public part closed."""

    default_user_message = "Портал Bitrix24 удалён или закрыт."
    default_admin_hint = (
        "Bitrix24 сообщает, что портал удалён или закрыт (PORTAL_DELETED): проверьте адрес "
        "портала в BITRIX_WEBHOOK_URL и состояние портала."
    )


class BitrixMethodNotFound(BitrixAPIError):
    """ERROR_METHOD_NOT_FOUND: an unknown method, or its module is not installed."""

    default_user_message = "Bitrix24 не поддерживает нужную операцию."

    def _admin_hint(self) -> str:
        return (
            f"Метод {self.method} не найден на портале: нужный модуль Bitrix24 не установлен "
            "или отключён."
        )


class BitrixLimitError(BitrixAPIError):
    """A rate or load limit of the portal."""

    default_user_message = "Bitrix24 перегружен запросами, попробуйте через минуту."


class BitrixQueryLimitExceeded(BitrixLimitError):
    """QUERY_LIMIT_EXCEEDED (503): the portal's leaky bucket overflowed; the call did not run."""

    default_admin_hint = (
        "Превышен лимит частоты запросов Bitrix24 (по умолчанию 2 в секунду, 50 подряд); его "
        "делят все приложения с одного IP. Уменьшите BITRIX_RATE/BITRIX_BURST или найдите "
        "другое приложение, которое шлёт запросы с этого сервера."
    )


class BitrixOperationTimeLimit(BitrixLimitError):
    """OPERATION_TIME_LIMIT (429): this method used up its execution-time budget.

    ``reset_at`` is the Unix time the portal said the oldest minute of the budget expires
    (``time.operating_reset_at`` of the last successful answer), when known.
    """

    reset_at: float | None

    def __init__(
        self, description: str = "", *, reset_at: float | None = None, **kwargs: Any
    ) -> None:
        self.reset_at = reset_at
        super().__init__(description, **kwargs)

    def _when(self) -> str | None:
        if self.reset_at is None:
            return None
        moment = datetime.fromtimestamp(self.reset_at, tz=UTC)
        return moment.strftime("%H:%M:%S UTC")

    def _user_message(self) -> str:
        return (
            f"Bitrix24 временно ограничил запросы к {_area(self.method)}, "
            "попробуйте через несколько минут."
        )

    def _admin_hint(self) -> str:
        when = self._when()
        reset = f" Ограничение снимется около {when}." if when else ""
        return (
            f"Метод {self.method} исчерпал лимит времени выполнения Bitrix24 (около 480 с за "
            f"10 минут на вебхук).{reset} Уменьшите частоту запросов или число выбираемых полей."
        )

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "reset_at": self.reset_at}


class BitrixOverloaded(BitrixLimitError):
    """OVERLOAD_LIMIT (503): support blocked the portal's REST API by hand. Not retried."""

    default_user_message = "Bitrix24 временно заблокировал доступ для бота."
    default_admin_hint = (
        "REST API портала заблокирован поддержкой Bitrix24 из-за нагрузки (OVERLOAD_LIMIT): "
        "обратитесь в поддержку Bitrix24."
    )


class BitrixServerError(BitrixAPIError):
    """An internal error of the portal (5xx with a Bitrix error body)."""

    default_user_message = "В Bitrix24 произошла ошибка, попробуйте позже."

    def _admin_hint(self) -> str:
        return (
            f"Внутренняя ошибка портала Bitrix24 при вызове {self.method} "
            f"({self.code or 'без кода'}: {self.description or 'без описания'}). Если "
            "повторяется — обратитесь в поддержку Bitrix24."
        )


class BitrixBatchError(BitrixAPIError):
    """A batch-level refusal of one sub-command (too many commands, method not allowed)."""

    default_user_message = "Не удалось получить данные из Bitrix24."

    def _admin_hint(self) -> str:
        return (
            f"Bitrix24 отклонил команду пакетного запроса ({self.code}: {self.description}); "
            "это ошибка бота — сообщите разработчикам."
        )


class BitrixRequestError(BitrixAPIError):
    """The portal rejected the call's parameters (400-class errors and unknown codes)."""

    default_user_message = "Bitrix24 отклонил запрос."

    def _admin_hint(self) -> str:
        argument = self.extra.get("argument")
        arg = f" (параметр {argument})" if argument else ""
        return (
            f"Портал отклонил параметры метода {self.method}{arg}: "
            f"{self.description or self.code or 'без описания'}. Вероятно, ошибка в настройке "
            "полей (BITRIX_FIELD_*) или в боте."
        )


class BitrixNotFound(BitrixRequestError):
    """The requested record does not exist (classic CRM "Not found")."""

    default_user_message = "Запись не найдена в Bitrix24."

    def _admin_hint(self) -> str:
        return (
            f"Метод {self.method}: запись не найдена — возможно, её удалили в Bitrix24 или у "
            "владельца вебхука нет к ней доступа."
        )


_BY_CODE: dict[str, type[BitrixAPIError]] = {
    "INVALID_CREDENTIALS": BitrixInvalidCredentials,
    "NO_AUTH_FOUND": BitrixInvalidCredentials,
    "EXPIRED_TOKEN": BitrixInvalidCredentials,
    "INVALID_TOKEN": BitrixInvalidCredentials,
    "AUTHORIZATION_ERROR": BitrixUserDeactivated,
    "PAYMENT_REQUIRED": BitrixPaymentRequired,
    "INSUFFICIENT_SCOPE": BitrixInsufficientScope,
    "ACCESS_DENIED": BitrixAccessDenied,
    "WRONG_AUTH_TYPE": BitrixAccessDenied,
    "ALLOWED_ONLY_INTRANET_USER": BitrixAccessDenied,
    "USER_ACCESS_ERROR": BitrixAccessDenied,
    "METHOD_CONFIRM_WAITING": BitrixAccessDenied,
    "METHOD_CONFIRM_DENIED": BitrixAccessDenied,
    "PORTAL_DELETED": BitrixPortalDeleted,
    "ERROR_METHOD_NOT_FOUND": BitrixMethodNotFound,
    "QUERY_LIMIT_EXCEEDED": BitrixQueryLimitExceeded,
    "OPERATION_TIME_LIMIT": BitrixOperationTimeLimit,
    "OVERLOAD_LIMIT": BitrixOverloaded,
    "INTERNAL_SERVER_ERROR": BitrixServerError,
    "ERROR_UNEXPECTED_ANSWER": BitrixServerError,
    "WRONG_ENCODING": BitrixServerError,
    "ERROR_BATCH_LENGTH_EXCEEDED": BitrixBatchError,
    "ERROR_BATCH_METHOD_NOT_ALLOWED": BitrixBatchError,
    "ERROR_ARGUMENT": BitrixRequestError,
    "ERROR_NOT_FOUND": BitrixNotFound,
}


def _classify(code: str, description: str, status: int | None) -> type[BitrixAPIError]:
    key = code.upper()
    if key == "INVALID_REQUEST":
        # The same code covers "Https required." from webhook auth and malformed OAuth calls.
        return BitrixHttpsRequired if "https" in description.lower() else BitrixRequestError
    if key == "ERROR_CORE":
        # "SQL query error!" is 500; converted PHP exceptions are 400 (reference §5).
        return BitrixServerError if status is not None and status >= 500 else BitrixRequestError
    if key in _BY_CODE:
        return _BY_CODE[key]
    if key == "":
        # Classic crm.* methods: 400 with an empty code and the reason in the description.
        text = description.lower()
        if "access denied" in text:
            return BitrixAccessDenied
        if "not found" in text:
            return BitrixNotFound
        return BitrixRequestError
    if status is not None and status >= 500:
        return BitrixServerError
    return BitrixRequestError


def api_error(
    method: str | None,
    body: Mapping[str, Any],
    *,
    status: int | None = None,
    reset_at: float | None = None,
) -> BitrixAPIError:
    """Build the exception for a Bitrix error body ``{"error", "error_description", ...}``.

    ``status`` is the HTTP status, or ``None`` for a batch sub-command's error. ``reset_at``
    is attached to ``BitrixOperationTimeLimit`` (the body of a 429 has no ``time``).
    """
    raw_code = body.get("error")
    code = raw_code if isinstance(raw_code, str) else str(raw_code or "")
    raw_description = body.get("error_description")
    description = raw_description if isinstance(raw_description, str) else ""
    extra = {k: v for k, v in body.items() if k not in {"error", "error_description"}}
    cls = _classify(code, description, status)
    if cls is BitrixOperationTimeLimit:
        return BitrixOperationTimeLimit(
            description,
            method=method,
            code=code,
            status=status,
            extra=extra,
            reset_at=reset_at,
        )
    return cls(description, method=method, code=code, status=status, extra=extra)
