"""The one YAML emitter of kgit: deterministic, and safe for every YAML reader.

Keys are sorted, lines end in LF, and every string that a YAML 1.1 *or* 1.2 reader could
take for something else (``yes``, ``on``, ``1e3``, ``0755``, ``2024-01-01``, ``~``, ``1:20``)
is quoted, so values survive kubectl, kustomize and Go's yaml libraries unchanged.
Multi-line strings (scripts, embedded JSON) are written as literal blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import yaml

# Plain scalars that some YAML reader resolves to a non-string. PyYAML's own resolver covers
# YAML 1.1 for most of these; the patterns add what it misses (1.2 octal/hex forms, y/n,
# underscores in numbers, sexagesimal, dates with times) so the rule does not depend on it.
_AMBIGUOUS = re.compile(
    r"""^(?:
        ~|null|Null|NULL|
        y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|
        [-+]?(?:0|[1-9][0-9_]*)|
        [-+]?0[0-7_]+|0o[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0b[01_]+|
        [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|
        [-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|
        [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|
        [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|
        [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9].*)?|
        =|<<
    )$""",
    re.VERBOSE,
)


def needs_quotes(text: str) -> bool:
    return bool(_AMBIGUOUS.match(text))


# libyaml's emitter (C) when PyYAML has it: the same YAML, an order of magnitude faster.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(ch in value for ch in "\r\t") and value == value.strip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if needs_quotes(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_mapping(dumper: yaml.SafeDumper, value: Mapping[str, Any]) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value))


def _ignore_aliases(self: yaml.SafeDumper, data: Any) -> bool:
    return True  # never emit &anchors/*aliases: every document stands alone


_Dumper.add_representer(str, _represent_str)
_Dumper.add_multi_representer(Mapping, _represent_mapping)
_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)
_Dumper.ignore_aliases = _ignore_aliases


def _pyyaml_dump(value: Any) -> str:
    return yaml.dump(
        value,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,  # never fold long strings: a folded line is a diff nobody asked for
        indent=2,
    )


def dump(value: Any) -> str:
    """One YAML document (no leading '---'), keys sorted, LF line endings."""
    try:
        return _fast_dump(value)
    except _Unsupported:
        return _pyyaml_dump(value)


# --- the same text, five times faster ------------------------------------------------------
# Writing a 1,000-app cluster spent most of its time in PyYAML's representer. kgit's
# documents are plain JSON-like data, so the block layout is written here, and each scalar
# is written exactly as PyYAML writes it on its own (cached: most strings repeat). A
# property test holds the two emitters to byte-identical output; anything unusual (floats,
# very long or multi-line keys, other types) goes to PyYAML itself.


class _Unsupported(Exception):
    pass


# A word of these characters (the colon only inside) is written as it is (plain) unless some
# reader could take it for another type: names, images and paths, most strings, need no
# emitter. Each distinct scalar is written once (cached), but a 1,000-app cluster has
# thousands of distinct names and hosts, and the emitter took a tenth of the compile.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._/:#\[\]-]*(?<!:)\Z")  # "a:" is a key
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()


def _is_plain_word(value: str) -> bool:
    return (
        _PLAIN_WORD.match(value) is not None
        and not needs_quotes(value)
        and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
    )


@lru_cache(maxsize=65536)
def _scalar_text(value: str | int | bool | None) -> str:
    if type(value) is str and _is_plain_word(value):
        return value
    text = _pyyaml_dump(value)
    if text.endswith("\n...\n"):  # a plain scalar at the root ends the document
        return text[: -len("\n...\n")]
    return text[:-1]


@lru_cache(maxsize=65536)
def _key_text(key: str) -> str:
    """A mapping key as PyYAML writes it; keys it must write in the '? key' form are refused."""
    text = _pyyaml_dump({key: None})
    if text.startswith("?") or not text.endswith(": null\n"):
        raise _Unsupported
    return text[: -len(": null\n")]


def _scalar(value: Any, indent: int) -> str:
    if value is not None and type(value) not in (str, int, bool):
        raise _Unsupported
    text = _scalar_text(value)
    if "\n" in text:  # a literal block: its body moves under the current level
        head, _, body = text.partition("\n")
        if "+" in head:
            raise _Unsupported  # kept trailing newlines can end the document: PyYAML decides
        pad = " " * indent
        text = (
            head + "\n" + "\n".join(pad + line[2:] if line else line for line in body.split("\n"))
        )
    return text


_SCALAR, _MAPPING, _SEQUENCE = 0, 1, 2
# Exact types first: an ABC isinstance() check per value was a quarter of the writing time.
_SHAPES: dict[type, int] = {
    dict: _MAPPING,
    list: _SEQUENCE,
    tuple: _SEQUENCE,
    str: _SCALAR,
    int: _SCALAR,
    bool: _SCALAR,
    float: _SCALAR,
    type(None): _SCALAR,
}


def _shape(value: Any) -> int:
    shape = _SHAPES.get(type(value))
    if shape is not None:
        return shape
    if isinstance(value, Mapping):
        return _MAPPING
    return _SEQUENCE if isinstance(value, list | tuple) else _SCALAR


def _inline(value: Any, indent: int) -> str:
    shape = _shape(value)
    if shape == _MAPPING:
        return "{}"
    if shape == _SEQUENCE:
        return "[]"
    return _scalar(value, indent)


def _block(value: Any, indent: int, out: list[str], first_lead: str) -> None:
    """A non-empty collection at ``indent``; its first line starts with ``first_lead``."""
    pad = " " * indent
    lead = first_lead
    if _shape(value) == _MAPPING:
        for key in sorted(value):
            if type(key) is not str:
                raise _Unsupported
            item = value[key]
            text = _key_text(key)
            shape = _shape(item) if item else _SCALAR
            if shape == _MAPPING:
                out.append(f"{lead}{text}:\n")
                _block(item, indent + 2, out, " " * (indent + 2))
            elif shape == _SEQUENCE:
                out.append(f"{lead}{text}:\n")
                _block(item, indent, out, pad)  # sequences in mappings are not indented
            else:
                out.append(f"{lead}{text}: {_inline(item, indent + 2)}\n")
            lead = pad
        return
    for item in value:
        if item and _shape(item) != _SCALAR:
            _block(item, indent + 2, out, f"{lead}- ")
        else:
            out.append(f"{lead}- {_inline(item, indent + 2)}\n")
        lead = pad


def _fast_dump(value: Any) -> str:
    if not value or _shape(value) == _SCALAR:
        raise _Unsupported
    out: list[str] = []
    _block(value, 0, out, "")
    return "".join(out)


def dump_all(documents: Iterable[Any]) -> str:
    """A multi-document stream, each document introduced by '---'."""
    return "".join(f"---\n{dump(doc)}" for doc in documents)


def header_comment(source: str) -> str:
    return (
        f"# Generated by kgit from {source}. Do not edit by hand:"
        f" edit {source} and run `kgit compile`.\n"
    )
