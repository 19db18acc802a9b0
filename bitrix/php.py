"""PHP conventions that Bitrix24's REST API inherits, shared by the client and the emulator.

Bitrix24 is PHP: query strings and form bodies are nested PHP-style (``filter[>ID]=5``,
``select[]=ID``), `batch` commands are ``method?querystring`` strings parsed with PHP's
``parse_str``, and JSON answers carry PHP array quirks (an empty array is ``[]`` even where an
object is expected; an array keyed exactly ``0..n-1`` is a JSON list). These helpers do both
directions so the client and the emulated portal agree byte for byte.

Written here rather than taken from a library: no maintained Python package implements PHP's
``parse_str``/``http_build_query`` pair (fast_bitrix24 and b24pysdk each carry a private copy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote_plus

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value:
            out.append((f"{prefix}[]", ""))
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]", item, out)
    elif isinstance(value, list | tuple):
        if not value:
            out.append((f"{prefix}[]", ""))
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    elif value is None:
        out.append((prefix, ""))
    elif isinstance(value, bool):
        # PHP has no JSON here: Bitrix reads "Y"/"N" or "1"/"0" for flags.
        out.append((prefix, "Y" if value else "N"))
    else:
        out.append((prefix, str(value)))


def flatten_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested params into PHP-style ``(key, value)`` pairs, e.g. ``filter[>ID]``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        _flatten(str(key), value, out)
    return out


def build_query(params: Mapping[str, Any]) -> str:
    """Encode params like PHP's ``http_build_query`` (RFC 3986 percent-encoding).

    Used for `batch` command strings, which the server decodes with ``parse_str``; ``$``,
    ``[`` and ``]`` may be encoded because references are substituted after decoding.
    """
    return "&".join(
        f"{quote(key, safe='[]')}={quote(value, safe='')}" for key, value in flatten_params(params)
    )


def _insert(target: dict[str, Any], parts: Sequence[str], value: str) -> None:
    node: dict[str, Any] = target
    for index, raw_part in enumerate(parts):
        last = index == len(parts) - 1
        part = raw_part
        if part == "":
            # `a[]=x` appends: the next integer key, as PHP does.
            numeric = [int(k) for k in node if k.lstrip("-").isdigit()]
            part = str(max(numeric) + 1 if numeric else 0)
        if last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


def _listify(value: Any) -> Any:
    """Turn dicts keyed exactly ``"0".."n-1"`` into lists, recursively (PHP array semantics)."""
    if isinstance(value, dict):
        items = {k: _listify(v) for k, v in value.items()}
        if items and all(k.isdigit() for k in items):
            keys = sorted(int(k) for k in items)
            if keys == list(range(len(keys))):
                return [items[str(k)] for k in keys]
        return items
    return value


def parse_pairs(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Nest already-decoded ``(key, value)`` pairs the way PHP's ``parse_str`` does.

    ``filter[>ID]=5`` becomes ``{"filter": {">ID": "5"}}``; ``select[]=ID&select[]=TITLE``
    becomes ``{"select": ["ID", "TITLE"]}``. All leaf values stay strings, as in PHP.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        if not raw_key:
            continue
        bracket = raw_key.find("[")
        if bracket <= 0 or not raw_key.endswith("]"):
            root[raw_key] = value
            continue
        head = raw_key[:bracket]
        parts = [head, *_KEY_PART.findall(raw_key[bracket:])]
        _insert(root, parts, value)
    return {k: _listify(v) for k, v in root.items()}


def parse_query(query: str) -> dict[str, Any]:
    """PHP ``parse_str``: decode a query string (``+`` is a space) into nested params."""
    pairs: list[tuple[str, str]] = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return parse_pairs(pairs)


def as_mapping(value: Any) -> dict[str, Any]:
    """Read a PHP array that may arrive as a JSON list or object as a ``{key: value}`` dict.

    Batch sections such as ``result_error`` are ``[]`` when empty, lists when keyed ``0..n-1``,
    and objects otherwise (reference §2.3); callers want one shape.
    """
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def php_array(value: Any) -> Any:
    """Shape a Python value as PHP's ``json_encode`` would print the equivalent PHP array.

    Empty dicts become ``[]`` and dicts keyed exactly ``0..n-1`` become lists, recursively.
    The emulator passes every answer through this, so clients meet the real quirks.
    """
    if isinstance(value, Mapping):
        if not value:
            return []
        keys = list(value.keys())
        if all(isinstance(k, int) or (isinstance(k, str) and k.isdigit()) for k in keys) and [
            int(k) for k in keys
        ] == list(range(len(keys))):
            return [php_array(value[k]) for k in keys]
        return {str(k): php_array(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [php_array(v) for v in value]
    return value
