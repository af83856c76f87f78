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
    """Why ``reference`` is not a well-formed image reference, or None if it is one."""
    rest, _, digest = reference.partition("@")
    if "@" in reference:
        algorithm, colon, hexpart = digest.partition(":")
        if not colon or not _DIGEST_ALGORITHM.fullmatch(algorithm):
            return f"the digest {digest!r} must be algorithm:hex, such as sha256:<64 hex digits>"
        if not _HEX.fullmatch(hexpart):
            return f"the digest {digest!r} must end in at least 32 hexadecimal digits"
        want = _DIGEST_LENGTHS.get(algorithm)
        if want is not None and len(hexpart) != want:
            return f"a {algorithm} digest has {want} hexadecimal digits, not {len(hexpart)}"
    name, tag = rest, None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if len(tag) > 128:
            return f"the tag is {len(tag)} characters long; at most 128 are allowed"
        if not _TAG.fullmatch(tag):
            return (
                f"the tag {tag!r} is not valid: letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-'"
            )
    if not name:
        return "the image name is empty"
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        return f"the name is longer than {NAME_TOTAL_LENGTH_MAX} characters"
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    ):
        if not _HOST.fullmatch(first):
            return f"the registry {first!r} is not a valid host[:port]"
        components = components[1:]
    for component in components:
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

