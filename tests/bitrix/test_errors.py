"""The Bitrix error hierarchy: mapping of every reference §5 code, messages, secrecy, pickling."""

from __future__ import annotations

import copy
import pickle
import re

import pytest

from bitrix import errors as E
from bitrix.errors import api_error, redact, scope_for_method
from tests.bitrix.client_fixtures import SECRET

CYRILLIC = re.compile(r"[А-Яа-яЁё]")

# (code, HTTP status as the portal sends it, description, expected class) — reference §5.
CASES: list[tuple[str, int | None, str, type[E.BitrixAPIError]]] = [
    ("INVALID_CREDENTIALS", 401, "Invalid request credentials", E.BitrixInvalidCredentials),
    ("NO_AUTH_FOUND", 401, "Wrong authorization data", E.BitrixInvalidCredentials),
    ("expired_token", 401, "The access token provided has expired.", E.BitrixInvalidCredentials),
    ("invalid_token", 401, "Unable to get application by token", E.BitrixInvalidCredentials),
    ("authorization_error", 401, "Unable to authorize user", E.BitrixUserDeactivated),
    (
        "insufficient_scope",
        401,
        "The request requires higher privileges",
        E.BitrixInsufficientScope,
    ),
    ("QUERY_LIMIT_EXCEEDED", 503, "Too many requests", E.BitrixQueryLimitExceeded),
    (
        "OPERATION_TIME_LIMIT",
        429,
        "Method is blocked due to operation time limit.",
        E.BitrixOperationTimeLimit,
    ),
    ("ERROR_METHOD_NOT_FOUND", 404, "Method not found!", E.BitrixMethodNotFound),
    ("ACCESS_DENIED", 403, "Access denied!", E.BitrixAccessDenied),
    ("INVALID_REQUEST", 401, "Https required.", E.BitrixHttpsRequired),
    ("PORTAL_DELETED", 403, "Portal was deleted", E.BitrixPortalDeleted),
    ("INTERNAL_SERVER_ERROR", 500, "", E.BitrixServerError),
    (
        "ERROR_UNEXPECTED_ANSWER",
        500,
        "Server returned an unexpected response",
        E.BitrixServerError,
    ),
    ("ERROR_CORE", 500, "SQL query error!", E.BitrixServerError),
    ("ERROR_CORE", 400, "Element not found", E.BitrixRequestError),
    ("ERROR_ARGUMENT", 400, "Invalid filter field", E.BitrixRequestError),
    ("", 400, "Not found", E.BitrixNotFound),
    ("", 400, "Access denied.", E.BitrixAccessDenied),
    ("", 400, "ID is not defined or invalid.", E.BitrixRequestError),
    ("ERROR_BATCH_LENGTH_EXCEEDED", None, "Max batch length exceeded", E.BitrixBatchError),
    (
        "ERROR_BATCH_METHOD_NOT_ALLOWED",
        None,
        "Method is not allowed for batch usage",
        E.BitrixBatchError,
    ),
    ("OVERLOAD_LIMIT", 503, "REST API is blocked due to overload", E.BitrixOverloaded),
    ("WRONG_AUTH_TYPE", 403, "", E.BitrixAccessDenied),
    ("ALLOWED_ONLY_INTRANET_USER", 403, "", E.BitrixAccessDenied),
    ("user_access_error", 403, "The user does not have access", E.BitrixAccessDenied),
    ("PAYMENT_REQUIRED", 401, "Subscription has been ended", E.BitrixPaymentRequired),
    ("METHOD_CONFIRM_WAITING", 401, "Waiting for confirmation", E.BitrixAccessDenied),
    ("METHOD_CONFIRM_DENIED", 403, "Method call denied", E.BitrixAccessDenied),
    ("WRONG_ENCODING", 500, "Wrong request encoding", E.BitrixServerError),
    ("SOMETHING_NEW", 400, "unknown", E.BitrixRequestError),
    ("SOMETHING_NEW", 502, "unknown", E.BitrixServerError),
]


@pytest.mark.parametrize(("code", "status", "description", "cls"), CASES)
def test_every_reference_code_maps_to_its_exception(
    code: str, status: int | None, description: str, cls: type[E.BitrixAPIError]
) -> None:
    exc = api_error(
        "crm.deal.list", {"error": code, "error_description": description}, status=status
    )
    assert type(exc) is cls
    assert isinstance(exc, E.BitrixAPIError)
    assert isinstance(exc, E.BitrixError)
    assert exc.method == "crm.deal.list"
    assert exc.code == code
    assert exc.status == status
    assert exc.description == description
    # Russian for users and the admin, English for the operator.
    assert CYRILLIC.search(exc.user_message)
    assert CYRILLIC.search(exc.admin_hint)
    line = str(exc)
    assert line.startswith("crm.deal.list: ")
    assert (code or '""') in line
    if status is not None:
        assert f"HTTP {status}" in line
    assert not CYRILLIC.search(line.replace(description, ""))


def test_hierarchy_branches() -> None:
    assert issubclass(E.BitrixInvalidCredentials, E.BitrixAuthError)
    assert issubclass(E.BitrixAuthError, E.BitrixAPIError)
    assert issubclass(E.BitrixQueryLimitExceeded, E.BitrixLimitError)
    assert issubclass(E.BitrixOperationTimeLimit, E.BitrixLimitError)
    assert issubclass(E.BitrixNotFound, E.BitrixRequestError)
    assert issubclass(E.BitrixConnectError, E.BitrixTransportError)
    assert issubclass(E.BitrixTimeoutError, E.BitrixTransportError)
    assert issubclass(E.BitrixConnectionDropped, E.BitrixTransportError)
    assert issubclass(E.BitrixPortalMoved, E.BitrixHTTPError)
    assert issubclass(E.BitrixBadResponse, E.BitrixHTTPError)
    assert issubclass(E.BitrixConfigError, ValueError)
    for name in E.__all__:
        obj = getattr(E, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, E.BitrixError), name
            assert name in (E.__doc__ or ""), f"{name} missing from the docstring tree"


@pytest.mark.parametrize(
    ("method", "scope", "area"),
    [
        ("tasks.task.list", "task", "задачам"),
        ("task.commentitem.add", "task", "задачам"),
        ("crm.deal.list", "crm", "CRM"),
        ("user.get", "user", "сотрудников"),
        ("department.get", "department", "структуре компании"),
        ("calendar.event.get", "calendar", "календарю"),
    ],
)
def test_insufficient_scope_names_the_missing_scope(method: str, scope: str, area: str) -> None:
    exc = api_error(method, {"error": "insufficient_scope", "error_description": ""}, status=401)
    assert isinstance(exc, E.BitrixInsufficientScope)
    assert exc.scope == scope == scope_for_method(method)
    assert exc.user_message.startswith("Нет доступа к ")
    assert area in exc.user_message
    assert f'"{scope}"' in exc.admin_hint
    assert "Разработчикам" in exc.admin_hint
    assert "Входящий вебхук" in exc.admin_hint


def test_invalid_credentials_hint_says_to_replace_the_webhook() -> None:
    exc = api_error("profile", {"error": "INVALID_CREDENTIALS"}, status=401)
    assert "BITRIX_WEBHOOK_URL" in exc.admin_hint
    assert "новый" in exc.admin_hint
    assert "вебхук" in exc.user_message


def test_operation_time_limit_carries_reset_time() -> None:
    exc = api_error(
        "crm.deal.list",
        {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"},
        status=429,
        reset_at=1_750_000_600.0,
    )
    assert isinstance(exc, E.BitrixOperationTimeLimit)
    assert exc.reset_at == 1_750_000_600.0
    assert "UTC" in exc.admin_hint
    assert "CRM" in exc.user_message


def test_error_argument_keeps_the_argument_name() -> None:
    exc = api_error(
        "crm.deal.list",
        {"error": "ERROR_ARGUMENT", "error_description": "bad", "argument": "filter"},
        status=400,
    )
    assert exc.extra == {"argument": "filter"}
    assert "filter" in exc.admin_hint


def test_classic_empty_code_is_visible_in_operator_line() -> None:
    exc = api_error("crm.deal.get", {"error": "", "error_description": "Not found"}, status=400)
    assert str(exc) == 'crm.deal.get: "" (HTTP 400): Not found'


def test_descriptions_and_causes_are_redacted() -> None:
    url = f"https://portal.example/rest/7/{SECRET}/crm.deal.list"
    exc = E.BitrixConnectError(f"cannot reach {url}", method="crm.deal.list", cause=url)
    texts = [str(exc), repr(exc), exc.description, exc.cause or "", exc.admin_hint]
    assert not any(SECRET in t for t in texts)
    assert "/rest/7/***" in exc.description
    assert redact(f"token {SECRET} here", [SECRET]) == "token *** here"


def test_long_descriptions_are_clipped() -> None:
    exc = E.BitrixBadResponse("x" * 5000, status=502)
    assert len(exc.description) <= 300


@pytest.mark.parametrize(
    "exc",
    [
        api_error("tasks.task.add", {"error": "insufficient_scope"}, status=401),
        api_error("crm.deal.list", {"error": "OPERATION_TIME_LIMIT"}, status=429, reset_at=5.0),
        E.BitrixPortalMoved("moved", method="profile", status=302, location_host="new.example"),
        E.BitrixBadResponse("Bad Gateway", method="batch", status=502, content_type="text/html"),
        E.BitrixTimeoutError("no answer", method="user.get", cause="ReadTimeout"),
    ],
)
def test_exceptions_survive_pickle_and_copy(exc: E.BitrixError) -> None:
    for clone in (pickle.loads(pickle.dumps(exc)), copy.copy(exc)):
        assert type(clone) is type(exc)
        assert str(clone) == str(exc)
        assert clone.user_message == exc.user_message
        assert clone.admin_hint == exc.admin_hint
        assert clone.status == exc.status


def test_portal_moved_names_only_the_new_host() -> None:
    exc = E.BitrixPortalMoved("moved", method="profile", status=302, location_host="new.example")
    assert "new.example" in exc.admin_hint
    assert "BITRIX_WEBHOOK_URL" in exc.admin_hint


def test_access_denied_on_free_plan_says_so() -> None:
    exc = api_error(
        "crm.deal.list",
        {
            "error": "ACCESS_DENIED",
            "error_description": "REST is available only on commercial plans.",
        },
        status=403,
    )
    assert "тариф" in exc.admin_hint
    assert "тариф" in exc.user_message
