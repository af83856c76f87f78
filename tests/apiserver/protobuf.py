"""Request bodies in Kubernetes' protobuf encoding, decoded to the JSON form.

client-go's generated clients send built-in kinds as ``application/vnd.kubernetes.protobuf``
(``kubectl create configmap|secret|deployment|...``), with no fallback to JSON, so a
server that refuses protobuf breaks those commands. A body is the magic ``k8s\\x00``
followed by a ``runtime.Unknown`` envelope whose ``raw`` holds the object's message
(https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding).

Messages are decoded with ``proto_v1_36.json`` (field numbers, JSON names, types and
``+optional`` markers, generated from the upstream ``generated.proto`` files by
``gen_proto.py``). The JSON form follows the Go types' encoding: Time as RFC 3339 (the
zero time omitted), IntOrString as a number or a string, Quantity as its string,
FieldsV1 and RawExtension as the JSON they carry, bytes as base64, and an ``+optional``
field that holds its zero value omitted (``omitempty``). Known limit: a pointer field
explicitly set to its zero value (``replicas: 0``) is omitted too; the protobuf form
cannot tell it from an unset field without the Go types. Responses stay JSON: the
clients accept both.
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
TABLE = Path(__file__).with_name("proto_v1_36.json")
UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
ZERO_TIME = -62135596800  # Go's zero time.Time in Unix seconds


class ProtobufError(ValueError):
    pass


@cache
def _messages() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(TABLE.read_text())
    return loaded


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, raw value) for each field, in order."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ProtobufError("truncated field")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 64:
        return value
    return int(struct.unpack("<i", struct.pack("<I", value & 0xFFFFFFFF))[0])


def _scalar(type_: str, wire: int, value: Any) -> Any:
    if type_ == "string":
        return bytes(value).decode("utf-8")
    if type_ == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if type_ == "bool":
        return bool(value)
    if type_ in ("int64", "int32"):
        return _signed(value, 64 if type_ == "int64" else 32)
    if type_ in ("uint32", "uint64"):
        return int(value)
    if type_ == "double":
        return struct.unpack("<d", value)[0]
    if type_ == "float":
        return struct.unpack("<f", value)[0]
    raise ProtobufError(f"unsupported scalar {type_}")


def _packed(type_: str, data: bytes) -> list[Any]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        values.append(_scalar(type_, 0, value))
    return values


def _special(name: str, data: bytes) -> tuple[bool, Any]:
    """The types whose JSON form is not an object of their fields."""
    if name in (META + "Time", META + "MicroTime"):
        raw = {n: v for n, _, v in _fields(data)}
        seconds, nanos = _signed(raw.get(1, 0), 64), _signed(raw.get(2, 0), 32)
        if (seconds == ZERO_TIME and not nanos) or not raw:
            return True, None
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            seconds=seconds, microseconds=nanos // 1000
        )
        if name.endswith("MicroTime"):
            return True, when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return True, when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        raw = {n: v for n, _, v in _fields(data)}
        if raw.get(1, 0) == 1:
            return True, bytes(raw.get(3, b"")).decode()
        return True, _signed(raw.get(2, 0), 32)
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        raw = {n: v for n, _, v in _fields(data)}
        return True, bytes(raw.get(1, b"")).decode()
    if name in (META + "FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension"):
        raw = {n: v for n, _, v in _fields(data)}
        blob = bytes(raw.get(1, b""))
        try:
            return True, json.loads(blob) if blob else None
        except ValueError:
            return True, base64.b64encode(blob).decode()
    if name == META + "Duration":
        raw = {n: v for n, _, v in _fields(data)}
        return True, f"{_signed(raw.get(1, 0), 64) / 1e9:g}s"
    return False, None


def _empty(value: Any) -> bool:
    if isinstance(value, dict | list | str):
        return not value
    return value is None or value is False or (type(value) is int and value == 0)


def decode_message(name: str, data: bytes) -> Any:
    special, value = _special(name, data)
    if special:
        return value
    spec = _messages().get(name)
    if spec is None:
        raise ProtobufError(f"no protobuf table entry for {name}")
    out: dict[str, Any] = {}
    for number, wire, raw in _fields(data):
        field = spec.get(str(number))
        if field is None:
            continue  # unknown to this version: dropped, as a decoder would
        key = field["name"]
        if "map" in field:
            entry = {n: v for n, _, v in _fields(raw)}
            value_type = field["map"][1]
            map_key = _scalar(field["map"][0], 0, entry.get(1, b""))
            entry_value = entry.get(2, b"" if value_type in ("string", "bytes") else 0)
            out.setdefault(key, {})[map_key] = (
                _scalar(value_type, 2, entry_value)
                if value_type in _SCALARS
                else decode_message(value_type, entry_value)
            )
            continue
        type_ = field["type"]
        if type_ in _SCALARS:
            if field["repeated"] and wire == 2 and type_ not in ("string", "bytes"):
                out.setdefault(key, []).extend(_packed(type_, raw))
                continue
            value = _scalar(type_, wire, raw)
        else:
            value = decode_message(type_, raw)
        if field["repeated"]:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    for field in spec.values():
        key = field["name"]
        if key in out and (out[key] is None or (field["optional"] and _empty(out[key]))):
            del out[key]
    return out


_SCALARS = frozenset(
    {"string", "bytes", "bool", "int32", "int64", "double", "float", "uint32", "uint64"}
)


def package_of(api_version: str) -> str:
    """apps/v1 -> k8s.io.api.apps.v1; v1 -> k8s.io.api.core.v1;
    rbac.authorization.k8s.io/v1 -> k8s.io.api.rbac.v1."""
    group, _, version = api_version.rpartition("/")
    return f"k8s.io.api.{group.split('.')[0] if group else 'core'}.{version}"


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the object's JSON form (apiVersion and kind first)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = {n: v for n, _, v in _fields(body[len(MAGIC) :])}
    type_meta = {n: bytes(v).decode() for n, _, v in _fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if not kind:
        raise ProtobufError("the protobuf envelope names no kind")
    obj = decode_message(f"{package_of(api_version)}.{kind}", bytes(envelope.get(2, b"")))
    return {"apiVersion": api_version, "kind": kind, **obj}
