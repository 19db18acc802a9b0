"""`batch`: up to 50 sub-commands in one HTTP request, with references to earlier results.

As the portal's PHP does it (CRestProvider::methodsBatch and
CRestUtil::ParseBatchQuery):

- top-level keys are upper-cased (``cmd``/``CMD``, ``halt``/``HALT``); ``halt`` is PHP-truthy;
- ``cmd`` is a map or a list of ``method?querystring`` strings, the query parsed with
  ``parse_str`` (`bitrix.php.parse_query`);
- before a command runs, every parameter value *and key* is scanned for
  ``$(result|next|total|time|error)[...]`` (case-insensitive); the bracket path is walked with
  ``isset`` semantics and the walk stops at the first missing step, so an unresolvable path
  yields whatever was reached; a value that is exactly one reference becomes the raw value (an
  array stays an array), otherwise the reference is string-replaced (PHP string cast);
- commands after the 50th get ERROR_BATCH_LENGTH_EXCEEDED, `batch` itself (and
  download/upload) ERROR_BATCH_METHOD_NOT_ALLOWED, both in ``result_error``; with ``halt``
  the first failing command stops the run;
- the answer's five sections are PHP arrays: shaped by `bitrix.php.php_array` on output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bitrix.php import parse_query
from bitrix.portal.calls import CallContext, MethodOutput, Params
from bitrix.portal.errors import BatchItemError, RestError
from bitrix.portal.query import as_php_array, php_string, php_truthy

#: Commands one batch runs (CRestUtil::BATCH_MAX_LENGTH).
MAX_COMMANDS = 50

_REFERENCE = re.compile(r"\$(result|next|total|time|error)([^\s]*)", re.IGNORECASE)
_PATH_STEP = re.compile(r"\[([^\]]+)\]")
_PHP_INT_KEY = re.compile(r"^(0|-?[1-9]\d*)$")
_MISSING = object()

Sections = dict[str, dict[str, Any]]


def _isset(node: Any, key: str) -> Any:
    """PHP ``isset($node[$key]) ? $node[$key] : <missing>`` for arrays and string offsets."""
    if isinstance(node, Mapping):
        value = node.get(key)
        return _MISSING if value is None else value
    if isinstance(node, list | tuple):
        if _PHP_INT_KEY.match(key) and 0 <= int(key) < len(node):
            value = node[int(key)]
            return _MISSING if value is None else value
        return _MISSING
    if isinstance(node, str) and _PHP_INT_KEY.match(key):
        index = int(key)
        if -len(node) <= index < len(node):
            return node[index]
    return _MISSING


def substitute(value: Any, sections: Sections) -> Any:
    """Resolve batch references inside one parameter value (ParseBatchQuery's element step)."""
    if not isinstance(value, str):
        return value
    result: Any = value
    for match in _REFERENCE.finditer(value):
        steps = _PATH_STEP.findall(match.group(2))
        if not steps:
            continue
        node: Any = sections[match.group(1).lower()]
        for step in steps:
            child = _isset(node, step)
            if child is _MISSING:
                break  # PHP stops walking and keeps what it reached.
            node = child
        if isinstance(result, str) and match.group(0) == result:
            result = node
        elif isinstance(result, str):
            result = result.replace(match.group(0), php_string(node))
    return result


def resolve_references(params: Any, sections: Sections) -> Any:
    """Resolve references in every value and key of decoded command parameters."""
    if isinstance(params, Mapping):
        resolved: dict[str, Any] = {}
        for key, value in params.items():
            new_key = substitute(str(key), sections)
            resolved[php_string(new_key)] = resolve_references(value, sections)
        return resolved
    if isinstance(params, list):
        return [resolve_references(item, sections) for item in params]
    return substitute(params, sections)


def batch(ctx: CallContext, params: Params) -> MethodOutput:
    """Run the commands of one `batch` request through ``ctx.subcall``."""
    if ctx.subcall is None:  # pragma: no cover - the engine always provides it
        raise RuntimeError("batch needs a sub-call runner")
    query = {str(k).upper(): v for k, v in params.items()}
    halt = php_truthy(query.get("HALT"))
    commands = as_php_array(query.get("CMD")) or {}
    sections: Sections = {"result": {}, "next": {}, "total": {}, "time": {}, "error": {}}
    for index, (key, command) in enumerate(commands.items()):
        try:
            if index >= MAX_COMMANDS:
                raise BatchItemError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
            method, _, query_string = php_string(command).partition("?")
            method = method.split("#", 1)[0]
            sub_params = resolve_references(parse_query(query_string), sections)
            if method.lower() == "batch" or method in ("download", "upload"):
                raise BatchItemError(
                    "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
                )
            envelope = ctx.subcall(method, sub_params)
        except RestError as error:
            sections["error"][key] = error.body()
            if halt:
                break
            continue
        sections["result"][key] = envelope["result"]
        if "next" in envelope:
            sections["next"][key] = envelope["next"]
        if "total" in envelope:
            sections["total"][key] = envelope["total"]
        sections["time"][key] = envelope["time"]
    return MethodOutput(
        {
            "result": sections["result"],
            "result_error": sections["error"],
            "result_total": sections["total"],
            "result_next": sections["next"],
            "result_time": sections["time"],
        }
    )
