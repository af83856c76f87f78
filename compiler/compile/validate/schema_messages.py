"""Shape problems from the JSON Schema, turned into plain sentences with positions.

jsonschema's own messages dump whole values and every branch of a ``oneOf``; here each
mistake becomes one sentence about the field (``spec.nodes[1].role: "master" is not one
of: control-plane, worker``), unknown keys get "did you mean", and strings with newlines
or control characters (which JSON Schema patterns cannot catch reliably) are refused.

Two tiers, because importing jsonschema and running it cost more than the rest of
``kgit validate`` on a small spec and a fifth of ``kgit compile`` on a large one, while
almost every spec checked is valid. First a yes/no check generated ahead of time from the
schema by fastjsonschema (``_schema_fastcheck``, see tools/generate_schema_check.py):
several times faster, and it needs neither jsonschema nor fastjsonschema at run time. Only
when it says no (or fails in any way) does jsonschema run, to find and word each mistake.
The generated check may be stricter than jsonschema (then jsonschema simply finds nothing)
but never more lenient; tests/test_schema_fastcheck.py holds it to that.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from compiler.compile.load import Document, PathKey
from compiler.compile.schema import cluster_schema
from compiler.compile.validate.fields import at, show
from compiler.core.errors import Problem

if TYPE_CHECKING:  # imported when needed: a valid spec never needs jsonschema
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# Free-text fields whose strings may span lines (they only ever reach a YAML manifest as
# data). Every other string reaches a script, a config file or an object name, where a
# newline or other control character can only be a mistake or an attack.
_MULTILINE_FIELDS = (
    ("spec", "apps", int, "env", int, "value"),
    ("spec", "apps", int, "initContainers", int, "command", int),
    ("spec", "apps", int, "initContainers", int, "args", int),
    ("spec", "apps", int, "initContainers", int, "env", int, "value"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(cluster_schema())


def _passes_fast_check(data: Any) -> bool:
    """True when the generated check finds ``data`` valid; False on any failure of it."""
    try:
        from compiler.compile.validate._schema_fastcheck import validate

        validate(data)
    except Exception:  # invalid, or the check itself failed: jsonschema decides
        return False
    return True


def _describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    names = {
        int: "a whole number",
        float: "a decimal number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "empty (null)",
        bytes: "binary data",
        set: "a set",
    }
    return names.get(type(value), type(value).__name__)


_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _expected(types: str | list[str]) -> str:
    names = [types] if isinstance(types, str) else list(types)
    if names == ["boolean"]:
        return "true or false"
    return _one_line([_TYPE_WORDS.get(t, t) for t in names])


def _one_line(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _either(options: list[str]) -> str:
    """'either value or valueFrom'; 'either addresses and ports, or externalName'."""
    joiner = ", or " if any(" and " in option for option in options) else " or "
    return "either " + joiner.join(options)


class Finding:
    """One schema problem: the field it is about, the message, and where to point.

    ``path`` is the field (semantic checks skip it and everything below it); the location
    is ``anchor`` (default: the path), at its key or at its value.
    """

    def __init__(
        self,
        path: PathKey,
        message: str,
        hint: str | None = None,
        key: bool = False,
        *,
        anchor: PathKey | None = None,
        suggests: str | None = None,
        missing: bool = False,
    ) -> None:
        self.path = path
        self.message = message
        self.hint = hint
        self.key = key
        self.anchor = path if anchor is None else anchor
        self.suggests = suggests  # for an unknown key: the known key it is close to
        self.missing = missing  # a required key that is absent (path ends with its name)


def _branch_errors(error: ValidationError) -> dict[int, list[ValidationError]]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    return branches


def _alternatives(error: ValidationError) -> list[list[str]]:
    """For a oneOf of required-key sets: each branch's required keys."""
    return [list(branch.get("required", [])) for branch in error.validator_value]


def _explain_alternatives(error: ValidationError) -> Iterator[Finding]:
    """oneOf over mappings that differ by which keys they require (env, externalServices)."""
    path = tuple(error.absolute_path)
    present = set(error.instance) if isinstance(error.instance, dict) else set()
    options = _alternatives(error)
    described = [" and ".join(keys) for keys in options]
    touched = [keys for keys in options if present & set(keys)]
    if len(touched) > 1:
        yield Finding(path, at(path, f"set {_either(described)}, not both"))
    elif len(touched) == 1:
        for key in (key for key in touched[0] if key not in present):
            message = f"missing required key {key!r} (set {_either(described)})"
            yield Finding((*path, key), at(path, message), anchor=path, missing=True)
    else:
        yield Finding(path, at(path, f"needs {_either(described)}"))


def _schema_found(error: ValidationError) -> Iterator[Finding]:
    """Plain-words problems for one jsonschema error (recursing into oneOf branches)."""
    if error.validator in ("oneOf", "anyOf"):
        yield from _explain_one_of(error)
    elif "propertyNames" in error.relative_schema_path:
        yield _bad_key(error)
    elif error.validator == "additionalProperties":
        yield from _unknown_keys(error)
    elif error.validator == "required":
        yield from _missing_keys(error)
    else:
        path: PathKey = tuple(error.absolute_path)
        message, type_hint = _value_problem(error)
        yield Finding(path, at(path, message), type_hint)


def _hint(error: ValidationError) -> Any:
    return error.schema.get("x-hint") if isinstance(error.schema, dict) else None


def _bad_key(error: ValidationError) -> Finding:
    """propertyNames: the instance is the offending key itself; point at it."""
    path: PathKey = tuple(error.absolute_path)
    value = error.instance
    if error.validator == "enum":
        allowed_keys = ", ".join(str(o) for o in error.validator_value)
        message = f"key {show(value)} is not one of: {allowed_keys}"
    else:
        expected = _hint(error) or error.validator_value
        message = f"key {show(value)} is not valid: expected {expected}"
    return Finding((*path, value), at(path, message), key=True)


def _unknown_keys(error: ValidationError) -> Iterator[Finding]:
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = sorted((schema.get("properties") or {}).keys())
    value = error.instance
    extras = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
    for extra in extras:
        close = difflib.get_close_matches(str(extra), allowed, n=1, cutoff=0.6)
        text = f"unknown key {extra!r}"
        if close:
            text += f"; did you mean {close[0]!r}?"
        elif allowed:
            text += f" (allowed: {', '.join(allowed)})"
        suggests = close[0] if close else None
        yield Finding((*path, extra), at(path, text), key=True, suggests=suggests)


def _missing_keys(error: ValidationError) -> Iterator[Finding]:
    path: PathKey = tuple(error.absolute_path)
    present = set(error.instance) if isinstance(error.instance, dict) else set()
    for key in error.validator_value:
        if key not in present:
            # Point at the mapping's own key (``spec:``) when it has one.
            message = at(path, f"missing required key {key!r}")
            yield Finding((*path, key), message, key=True, anchor=path, missing=True)


def _type_problem(error: ValidationError) -> tuple[str, str | None]:
    value = error.instance
    message = f"must be {_expected(error.validator_value)}, not {_describe_type(value)}"
    if "string" in error.validator_value and isinstance(value, bool | int | float | date):
        return message, "quote values such as yes, on, 1.30 or 2024-01-01 to keep them strings"
    return message, None


def _enum_problem(error: ValidationError) -> str:
    options = [str(o) for o in error.validator_value]
    close = difflib.get_close_matches(str(error.instance), options, 1)
    message = f"{show(error.instance)} is not one of: {', '.join(options)}"
    return message + (f"; did you mean {close[0]!r}?" if close else "")


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


# validator -> the sentence for a value it refused (the schema's x-hint goes inside it).
_VALUE_MESSAGES: dict[str, Callable[[ValidationError], str]] = {
    "enum": _enum_problem,
    "const": lambda e: f"must be {e.validator_value!r}, not {show(e.instance)}",
    "pattern": lambda e: (
        f"{show(e.instance)} is not valid: expected {_hint(e) or e.validator_value}"
    ),
    "maxLength": lambda e: (
        f"{show(e.instance)} is too long (at most {e.validator_value} characters)"
    ),
    "minLength": lambda e: (
        f"{show(e.instance)} is too short (at least {e.validator_value} characters)"
    ),
    "minimum": lambda e: f"{show(e.instance)} must be at least {e.validator_value}",
    "maximum": lambda e: f"{show(e.instance)} must be at most {e.validator_value}",
    "minItems": lambda e: (
        f"needs at least {e.validator_value} {_plural(e.validator_value, 'item', 'items')}"
    ),
    "minProperties": lambda e: (
        f"needs at least {e.validator_value} {_plural(e.validator_value, 'entry', 'entries')}"
    ),
    "not": lambda _e: "is not allowed here",
}


def _value_problem(error: ValidationError) -> tuple[str, str | None]:
    """The sentence for a refused value, and a hint to print after it (or None)."""
    if error.validator == "type":
        return _type_problem(error)
    describe = _VALUE_MESSAGES.get(str(error.validator))
    return (describe(error) if describe else error.message), None


def _explain_one_of(error: ValidationError) -> Iterator[Finding]:
    """Report the branch the user evidently meant, instead of a dump of every branch.

    A branch whose ``type`` does not match the value is not what the user meant. If exactly
    one branch has the right type, its problems are the real ones (e.g. a port that is a
    whole number but too big). If none has, the value has the wrong type. If several have,
    the branches differ by which keys they require, and we say which keys to set.
    """
    path: PathKey = tuple(error.absolute_path)
    branches = _branch_errors(error)
    if not branches:  # valid under more than one branch
        yield from _explain_alternatives(error)
        return
    right_type = {
        index: errors
        for index, errors in branches.items()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    }
    if len(right_type) == 1:
        for sub in next(iter(right_type.values())):
            yield from _schema_found(sub)
        return
    if not right_type:
        types: list[str] = []
        for errors in branches.values():
            for sub in errors:
                if sub.validator == "type" and not sub.relative_path:
                    for name in (
                        [sub.validator_value]
                        if isinstance(sub.validator_value, str)
                        else sub.validator_value
                    ):
                        if name not in types:
                            types.append(name)
        words = [_TYPE_WORDS.get(t, t) for t in types]
        message = f"must be {_one_line(words)}, not {_describe_type(error.instance)}"
        yield Finding(path, at(path, message))
        return
    yield from _explain_alternatives(error)


def _control_characters(data: Any, path: PathKey = ()) -> Iterator[Finding]:
    """Strings (and keys) with newlines or other control characters.

    JSON Schema patterns cannot catch these reliably: Python's ``$`` also matches before
    a final newline, so ``eth0\\n`` passes ``^[a-z0-9]+$``.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and _CONTROL_OR_NEWLINE.search(key):
                yield Finding(
                    (*path, key),
                    at(path, f"key {show(key)} must not contain newlines or control characters"),
                    key=True,
                )
            yield from _control_characters(value, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _control_characters(item, (*path, index))
    elif isinstance(data, str) and _CONTROL_OR_NEWLINE.search(data):  # rare: then look closer
        multiline = any(_matches(path, pattern) for pattern in _MULTILINE_FIELDS)
        if not multiline or _CONTROL.search(data):
            what = "control characters" if multiline else "newlines or control characters"
            yield Finding(path, at(path, f"{show(data)} must not contain {what}"))


def _matches(path: PathKey, pattern: tuple[Any, ...]) -> bool:
    if len(path) != len(pattern):
        return False
    return all(
        isinstance(part, int) if want is int else part == want
        for part, want in zip(path, pattern, strict=True)
    )


def schema_findings(doc: Document) -> list[Finding]:
    found: list[Finding] = []
    if not _passes_fast_check(doc.data):
        for error in _validator().iter_errors(doc.data):
            found.extend(_schema_found(error))
    # A misspelt key is one mistake, not also a missing one: keep the did-you-mean only.
    # jsonschema reports a 'required' once per missing key, each time with the full list.
    unique = {(f.path, f.message): f for f in found}
    found = list(unique.values())
    suggested = {(*f.path[:-1], f.suggests) for f in found if f.suggests}
    found = [f for f in found if not (f.missing and f.path in suggested)]
    reported = {f.path for f in found}
    found.extend(f for f in _control_characters(doc.data) if f.path not in reported)
    return found


def located_problem(doc: Document, found: Finding) -> Problem:
    # ``of`` falls back to the nearest enclosing value (a missing key has no position).
    location = doc.positions.of(found.anchor, key=found.key)
    return Problem(location, found.message, found.hint)
