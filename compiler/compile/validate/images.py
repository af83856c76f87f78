"""Image references: the grammar container runtimes accept, with a reason when it fails."""

from __future__ import annotations

import re

#
# The grammar of github.com/distribution/reference (the one Docker, containerd and CRI-O
# use):
#   reference      := name [ ":" tag ] [ "@" digest ]
#   name           := [domain "/"] path-component ["/" path-component]*
#   domain         := host [":" port]     host: DNS name, IPv4 address or [IPv6]
#   path-component := [a-z0-9]+ ((\. | _ | __ | -+) [a-z0-9]+)*
#   tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
#   digest         := algorithm ":" hex       algorithm: [A-Za-z][A-Za-z0-9]* ([+._-] ...)*
# The first component is a domain only if it contains '.' or ':', is 'localhost', or has
# an uppercase letter (otherwise 'library/nginx' would be a host called library).

_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_ALGORITHM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_TOTAL_LENGTH_MAX = 255


def image_reference_problem(reference: str) -> str | None:
    """Why ``reference`` is not a well-formed image reference, or None if it is one.

    The grammar is the distribution reference's: ``name[:tag][@digest]``, where name is
    ``[host[:port]/]path`` (github.com/distribution/reference, regexp.go)."""
    rest, at_sign, digest = reference.partition("@")
    if at_sign and (problem := _digest_problem(digest)):
        return problem
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        name, tag = rest[:colon], rest[colon + 1 :]
        if problem := _tag_problem(tag):
            return problem
    return _name_problem(name)


def _digest_problem(digest: str) -> str | None:
    algorithm, separator, hexpart = digest.partition(":")
    if not separator or not _DIGEST_ALGORITHM.fullmatch(algorithm):
        return f"the digest {digest!r} must be algorithm:hex, such as sha256:<64 hex digits>"
    if not _HEX.fullmatch(hexpart):
        return f"the digest {digest!r} must end in at least 32 hexadecimal digits"
    want = _DIGEST_LENGTHS.get(algorithm)
    if want is not None and len(hexpart) != want:
        return f"a {algorithm} digest has {want} hexadecimal digits, not {len(hexpart)}"
    return None


def _tag_problem(tag: str) -> str | None:
    if len(tag) > 128:
        return f"the tag is {len(tag)} characters long; at most 128 are allowed"
    if not _TAG.fullmatch(tag):
        return (
            f"the tag {tag!r} is not valid: letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    return None


def _name_problem(name: str) -> str | None:
    if not name:
        return "the image name is empty"
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        return f"the name is longer than {NAME_TOTAL_LENGTH_MAX} characters"
    components = name.split("/")
    first = components[0]
    # A first component with a dot, a port, an upper-case letter or "localhost" is a host.
    if len(components) > 1 and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    ):
        if not _HOST.fullmatch(first):
            return f"the registry {first!r} is not a valid host[:port]"
        components = components[1:]
    return next(filter(None, map(_path_component_problem, components)), None)


def _path_component_problem(component: str) -> str | None:
    if not component:
        return "the name has an empty path component ('//' or a trailing '/')"
    if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
        return f"the repository path must be lowercase ({component!r})"
    if not _PATH_COMPONENT.fullmatch(component):
        return (
            f"the path component {component!r} is not valid: lowercase letters and digits, "
            "separated by '.', '_', '__' or '-'"
        )
    return None
