"""Vendoring upstream add-on manifests: ``kgit vendor``.

It downloads an official release manifest (or, with ``url``, any manifest at an HTTPS URL,
pinned to a sha256 the user gives) into ``vendor/`` of the user's repository and records
its URL and sha256 in ``kgit.lock`` at the repository root (compiler.compile.lockfile,
which compile reads to refuse a vendored file whose bytes no longer match).

Only ``vendor_addon`` and ``download`` touch the disk or the network; the rest is pure.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from compiler.compile.emit import sha256
from compiler.compile.lockfile import (
    LOCK_FILE,
    URL_ADDON,
    LockEntry,
    VendorError,
    dump_lock,
    parse_lock,
)

VENDOR_DIR = "vendor"
DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each read
MAX_BYTES = 8 * 1024 * 1024  # release manifests are tens of KiB; anything this big is wrong

Addon = Literal["flannel", "ingress-nginx", "nginx-gateway-fabric"]
Variant = Literal["baremetal", "cloud", "default", "nodeport"]
ADDONS: tuple[Addon, ...] = ("flannel", "ingress-nginx", "nginx-gateway-fabric")
VARIANTS: tuple[Variant, ...] = ("baremetal", "cloud", "default", "nodeport")
ADDON_VARIANTS: dict[Addon, tuple[Variant, ...]] = {
    "ingress-nginx": ("baremetal", "cloud"),
    "nginx-gateway-fabric": ("default", "nodeport"),
}
DEFAULT_URL_BASES: dict[Addon, str] = {
    "flannel": "https://github.com/flannel-io/flannel/releases/download",
    "ingress-nginx": "https://raw.githubusercontent.com/kubernetes/ingress-nginx",
    "nginx-gateway-fabric": "https://raw.githubusercontent.com/nginx/nginx-gateway-fabric",
}
_VENDOR_PATH = re.compile(r"^vendor/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_VERSION = re.compile(r"^v?(\d+\.\d+\.\d+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Release:
    """What to download for an add-on version (or a URL), and where it goes in the repository."""

    addon: str  # one of ADDONS, or URL_ADDON
    version: str
    url: str
    path: str  # relative to the repository root, POSIX


# --- pure parts -----------------------------------------------------------------------------


def normalise_version(text: str) -> str:
    """'0.28.9' from '0.28.9' or 'v0.28.9'; anything else is an error."""
    match = _VERSION.match(text.strip())
    if not match:
        raise VendorError(
            f"{text!r} is not a release version", hint="give three numbers, such as 0.28.9"
        )
    return match[1]


def release(
    addon: Addon, version: str, *, variant: Variant | None = None, url_base: str | None = None
) -> Release:
    """The official release manifest of ``addon`` at ``version`` (``url_base`` for a mirror)."""
    version = normalise_version(version)
    base = (url_base or DEFAULT_URL_BASES[addon]).rstrip("/")
    if addon == "flannel":
        if variant is not None:
            raise VendorError("--variant applies to ingress-nginx and nginx-gateway-fabric only")
        return Release(
            addon,
            version,
            f"{base}/v{version}/kube-flannel.yml",
            f"{VENDOR_DIR}/kube-flannel-v{version}.yml",
        )
    variant = variant or ADDON_VARIANTS[addon][0]
    if variant not in ADDON_VARIANTS[addon]:
        choices = " or ".join(ADDON_VARIANTS[addon])
        raise VendorError(f"--variant {variant} is not one of {addon}'s: {choices}")
    if addon == "nginx-gateway-fabric":
        return Release(
            addon,
            version,
            f"{base}/v{version}/deploy/{variant}/deploy.yaml",
            f"{VENDOR_DIR}/nginx-gateway-fabric-{variant}-v{version}.yaml",
        )
    return Release(
        addon,
        version,
        f"{base}/controller-v{version}/deploy/static/provider/{variant}/deploy.yaml",
        f"{VENDOR_DIR}/ingress-nginx-{variant}-v{version}.yaml",
    )


def url_release(url: str, path: str | None = None) -> Release:
    """Any upstream manifest at an HTTPS ``url``, vendored to ``path`` (default: vendor/ and
    the URL's file name). Its pin (the sha256) is required: see ``vendor_addon``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise VendorError(
            f"{url!r} is not an HTTPS URL", hint="give the https:// address of the manifest"
        )
    target = path or f"{VENDOR_DIR}/{parts.path.rstrip('/').rsplit('/', 1)[-1]}"
    if not _VENDOR_PATH.match(target) or ".." in target.split("/"):
        raise VendorError(
            f"{target!r} is not a file under {VENDOR_DIR}/",
            hint="choose one with --path, such as vendor/cert-manager-v1.16.2.yaml",
        )
    return Release(URL_ADDON, "", url, target)


def check_manifest(data: bytes, url: str) -> None:
    """The download must be a YAML stream of Kubernetes objects, not an error page."""
    try:
        docs = [doc for doc in yaml.safe_load_all(data.decode("utf-8")) if doc is not None]
    except (UnicodeDecodeError, yaml.YAMLError):
        docs = []
    if not docs or not all(isinstance(d, dict) and "kind" in d and "apiVersion" in d for d in docs):
        raise VendorError(f"{url} did not return a Kubernetes manifest (YAML objects)")


# --- I/O: the network and the repository ----------------------------------------------------


def download(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The body of ``url``; each way this fails is one VendorError naming the URL."""
    # Imported here: urllib pulls in http.client and email (~30 ms), which every compile
    # would pay for through compiler.compile.addons, and only `kgit vendor` downloads.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "kgit-vendor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise VendorError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise VendorError(f"cannot download {url}: {exc.reason}") from None
    except TimeoutError:
        raise VendorError(f"cannot download {url}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise VendorError(f"cannot download {url}: {exc}") from None
    if len(data) > MAX_BYTES:
        raise VendorError(f"cannot download {url}: larger than {MAX_BYTES} bytes")
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def vendor_addon(
    root: Path,
    target: Release,
    *,
    expected_sha256: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> LockEntry:
    """Download ``target`` into ``root``/vendor and record it in ``root``/kgit.lock.

    Every check runs before the first write, so a failure leaves vendor/ and kgit.lock as
    they were.
    """
    if expected_sha256 is not None and not _SHA256.match(expected_sha256.lower()):
        raise VendorError(f"--sha256 {expected_sha256!r} is not 64 hexadecimal digits")
    if target.addon == URL_ADDON and expected_sha256 is None:
        raise VendorError(
            f"vendoring {target.url} needs --sha256: kgit pins every manifest it did not "
            "choose itself to the digest you reviewed",
            hint="take the digest from the project's release notes, or download the file, "
            "read it, and use `sha256sum`",
        )
    lock_path = root / LOCK_FILE
    entries = parse_lock(lock_path.read_text("utf-8")) if lock_path.is_file() else {}
    known = entries.get(target.path)
    if known is not None and known.url != target.url:
        raise VendorError(
            f"{target.path} is already vendored from {known.url}",
            hint="choose another file name with --path",
        )
    data = download(target.url, timeout=timeout)
    digest = sha256(data)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise VendorError(
            f"{target.url} has sha256 {digest}, expected {expected_sha256.lower()}",
            hint="the file changed upstream or on the way; nothing was written",
        )
    check_manifest(data, target.url)
    entry = LockEntry(target.addon, target.version, target.url, digest)
    _write_atomically(root / target.path, data)
    _write_atomically(lock_path, dump_lock({**entries, target.path: entry}).encode("utf-8"))
    return entry
