"""What a handler receives and returns: the parsed HTTP request, its route (which
resource, namespace, name, subresource and API verb) and the response to send.

Also the small request-level helpers every handler shares (body decoding, the default
field manager, timestamps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from tests.apiserver import protobuf
from tests.apiserver.discovery import Resource
from tests.apiserver.status import bad_request, unsupported_media_type

JSON = "application/json"
BODY_TYPES = (
    JSON,
    "application/yaml",
    "application/apply-patch+yaml",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    @property
    def dry_run(self) -> bool:
        return "All" in self.query.get("dryRun", [])

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON
    drop: bool = False  # close the connection without answering (fault injection)
    # ``body`` already encoded (compact JSON), when a handler built it from cached item
    # encodings; the listener sends it instead of encoding ``body`` again.
    encoded: bytes | None = None


@dataclass
class Route:
    resource: Resource | None  # None for non-resource URLs (/version, /apis, ...)
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    verb: str = ""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_manager(req: Request) -> str:
    """Upstream derives the manager from the User-Agent's first segment."""
    agent = req.headers.get("user-agent", "")
    return agent.split("/", 1)[0][:128] or "unknown"


def parse_body(req: Request) -> Any:
    ctype = req.content_type
    if ctype == protobuf.CONTENT_TYPE:
        try:
            return protobuf.decode(req.body)
        except (protobuf.ProtobufError, UnicodeDecodeError) as exc:
            raise bad_request(f"error decoding protobuf body: {exc}") from None
    if ctype not in ("", *BODY_TYPES):
        raise unsupported_media_type(ctype)
    text = req.body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        pass
    if ctype in ("application/yaml", "application/apply-patch+yaml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise bad_request(f"error converting YAML to JSON: {exc}") from None
    raise bad_request("couldn't get version/kind; json parse error: invalid JSON body")
