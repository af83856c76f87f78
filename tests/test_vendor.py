"""kgit vendor: downloads from a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from compiler.cli.app import main
from compiler.compile.addons import baseline_text
from compiler.compile.lockfile import LockEntry, VendorError, dump_lock, parse_lock
from compiler.core.errors import KgitError
from compiler.repo.vendor import release, vendor_addon

FLANNEL = baseline_text("flannel").encode()
INGRESS = baseline_text("ingress-nginx").encode()
FLANNEL_SHA = hashlib.sha256(FLANNEL).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """(base URL, routes): an HTTP server on 127.0.0.1 serving ``routes`` (path -> body)."""
    routes: ClassVar[dict[str, bytes]] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll interval keeps shutdown() quick; the default waits up to 0.5 s per test.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "cluster.yaml").write_text("# the spec is not read by kgit vendor\n")
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- URLs and paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addon", "version", "variant", "url", "path"),
    [
        pytest.param(
            "flannel",
            "0.28.9",
            None,
            "https://github.com/flannel-io/flannel/releases/download/v0.28.9/kube-flannel.yml",
            "vendor/kube-flannel-v0.28.9.yml",
            id="flannel",
        ),
        pytest.param(
            "ingress-nginx",
            "v1.15.1",
            None,
            "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.15.1"
            "/deploy/static/provider/baremetal/deploy.yaml",
            "vendor/ingress-nginx-baremetal-v1.15.1.yaml",
            id="ingress-nginx-baremetal",
        ),
        pytest.param(
            "ingress-nginx",
            "1.12.1",
            "cloud",
            "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1"
            "/deploy/static/provider/cloud/deploy.yaml",
            "vendor/ingress-nginx-cloud-v1.12.1.yaml",
            id="ingress-nginx-cloud",
        ),
    ],
)
def test_official_release_urls_and_vendored_paths(addon, version, variant, url, path):
    target = release(addon, version, variant=variant)
    assert (target.url, target.path) == (url, path)


@pytest.mark.parametrize(
    ("version", "variant", "message"),
    [
        pytest.param(
            "latest",
            None,
            "'latest' is not a release version (hint: give three numbers, such as 0.28.9)",
            id="not-a-version",
        ),
        pytest.param(
            "0.28.9",
            "cloud",
            "--variant applies to ingress-nginx and nginx-gateway-fabric only",
            id="variant",
        ),
    ],
)
def test_bad_release_requests_are_refused(version, variant, message):
    with pytest.raises(VendorError) as caught:
        release("flannel", version, variant=variant)
    assert str(caught.value) == message


# --- downloading ----------------------------------------------------------------------------


def test_vendor_writes_the_file_and_records_it_in_the_lock(server, repo):
    base, routes = server
    routes["/v0.28.9/kube-flannel.yml"] = FLANNEL
    entry = vendor_addon(repo, release("flannel", "0.28.9", url_base=base), timeout=5)

    assert (repo / "vendor/kube-flannel-v0.28.9.yml").read_bytes() == FLANNEL
    assert entry == LockEntry("flannel", "0.28.9", f"{base}/v0.28.9/kube-flannel.yml", FLANNEL_SHA)
    assert (repo / "kgit.lock").read_text() == (
        "# Written by `kgit vendor`: upstream files under vendor/ and the sha256 of each.\n"
        "# `kgit compile` refuses a vendored file whose bytes no longer match.\n"
        "apiVersion: kgit.dev/v1alpha1\n"
        "kind: Lock\n"
        "vendor:\n"
        "  vendor/kube-flannel-v0.28.9.yml:\n"
        "    addon: flannel\n"
        f"    sha256: {FLANNEL_SHA}\n"
        f"    url: {base}/v0.28.9/kube-flannel.yml\n"
        "    version: 0.28.9\n"
    )
    assert not [p.name for p in (repo / "vendor").iterdir() if p.name.startswith(".")]


def test_the_lock_keeps_every_vendored_file_sorted_by_path(server, repo):
    base, routes = server
    routes["/v0.28.9/kube-flannel.yml"] = FLANNEL
    routes["/controller-v1.15.1/deploy/static/provider/cloud/deploy.yaml"] = INGRESS
    vendor_addon(repo, release("ingress-nginx", "1.15.1", variant="cloud", url_base=base))
    vendor_addon(repo, release("flannel", "0.28.9", url_base=base))
    lock = parse_lock((repo / "kgit.lock").read_text())
    assert list(lock) == [
        "vendor/ingress-nginx-cloud-v1.15.1.yaml",
        "vendor/kube-flannel-v0.28.9.yml",
    ]
    assert (
        lock["vendor/ingress-nginx-cloud-v1.15.1.yaml"].sha256
        == hashlib.sha256(INGRESS).hexdigest()
    )


def test_an_expected_sha256_that_matches_is_accepted(server, repo):
    base, routes = server
    routes["/v0.28.9/kube-flannel.yml"] = FLANNEL
    target = release("flannel", "0.28.9", url_base=base)
    assert vendor_addon(repo, target, expected_sha256=FLANNEL_SHA.upper()).sha256 == FLANNEL_SHA


def _failure_cases(base: str, routes: dict[str, bytes]):
    routes["/v0.28.9/kube-flannel.yml"] = FLANNEL
    routes["/v0.0.1/kube-flannel.yml"] = b"<html>rate limited</html>\n"
    closed = f"http://127.0.0.1:{_closed_port()}"
    wrong = "0" * 64
    return {
        "unreachable": (
            dict(target=release("flannel", "0.28.9", url_base=closed)),
            f"cannot download {closed}/v0.28.9/kube-flannel.yml: [Errno 111] Connection refused",
        ),
        "not-found": (
            dict(target=release("flannel", "9.9.9", url_base=base)),
            f"cannot download {base}/v9.9.9/kube-flannel.yml: HTTP 404 Not Found",
        ),
        "checksum-mismatch": (
            dict(target=release("flannel", "0.28.9", url_base=base), expected_sha256=wrong),
            f"{base}/v0.28.9/kube-flannel.yml has sha256 {FLANNEL_SHA}, expected {wrong} "
            "(hint: the file changed upstream or on the way; nothing was written)",
        ),
        "not-a-manifest": (
            dict(target=release("flannel", "0.0.1", url_base=base)),
            f"{base}/v0.0.1/kube-flannel.yml did not return a Kubernetes manifest (YAML objects)",
        ),
        "bad-expected-digest": (
            dict(target=release("flannel", "0.28.9", url_base=base), expected_sha256="abc"),
            "--sha256 'abc' is not 64 hexadecimal digits",
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["unreachable", "not-found", "checksum-mismatch", "not-a-manifest", "bad-expected-digest"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["fresh-repo", "vendored-before"])
def test_a_failed_download_is_one_clear_error_and_changes_nothing(server, repo, case, existing):
    base, routes = server
    if existing:
        old = LockEntry("flannel", "0.26.7", "https://example.invalid/x", "1" * 64)
        (repo / "vendor").mkdir()
        (repo / "vendor/kube-flannel-v0.28.9.yml").write_bytes(b"kept as it was\n")
        (repo / "kgit.lock").write_text(dump_lock({"vendor/kube-flannel-v0.26.7.yml": old}))
    before = _snapshot(repo)
    kwargs, message = _failure_cases(base, routes)[case]
    with pytest.raises(VendorError) as caught:
        vendor_addon(repo, timeout=5, **kwargs)
    assert str(caught.value) == message
    assert _snapshot(repo) == before
    assert (repo / "vendor").exists() == existing


# --- the command ----------------------------------------------------------------------------


def test_kgit_vendor_command_downloads_pins_and_says_how_to_use_it(server, repo, capsys):
    base, routes = server
    routes["/controller-v1.15.1/deploy/static/provider/baremetal/deploy.yaml"] = INGRESS
    code = main(
        ["vendor", "-f", str(repo / "cluster.yaml"), "ingress-nginx", "1.15.1", "--url-base", base]
    )
    out = capsys.readouterr().out
    url = f"{base}/controller-v1.15.1/deploy/static/provider/baremetal/deploy.yaml"
    assert code == 0
    assert out == (
        f"vendored {url} -> vendor/ingress-nginx-baremetal-v1.15.1.yaml "
        f"(sha256 {hashlib.sha256(INGRESS).hexdigest()})\n"
        "recorded in kgit.lock; to use it, set spec.ingress.nginx.source: "
        "vendor/ingress-nginx-baremetal-v1.15.1.yaml in the spec\n"
    )
    assert (repo / "vendor/ingress-nginx-baremetal-v1.15.1.yaml").read_bytes() == INGRESS


def test_kgit_vendor_command_reports_a_404_as_one_error_line(server, repo, capsys):
    base, _routes = server
    code = main(
        ["vendor", "-f", str(repo / "cluster.yaml"), "flannel", "0.28.9", "--url-base", base]
    )
    assert code == 1
    assert capsys.readouterr().err == (
        f"error: cannot download {base}/v0.28.9/kube-flannel.yml: HTTP 404 Not Found\n"
    )
    assert not (repo / "vendor").exists()


def test_a_vendored_file_compiles_and_an_edit_is_caught(server, repo):
    """End to end: vendor, point the spec at it, compile; then tamper and compile again."""
    from compiler.compile.pipeline import compile_tree
    from compiler.core.sources import DirectoryTree
    from tests.test_addons_support import MINIMAL_SPEC

    base, routes = server
    routes["/v0.28.9/kube-flannel.yml"] = FLANNEL
    target = release("flannel", "0.28.9", url_base=base)
    vendor_addon(repo, target)
    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    spec["spec"]["network"] = {"podSubnet": "10.32.0.0/12", "flannel": {"source": target.path}}
    (repo / "cluster.yaml").write_text(yaml.safe_dump(spec))

    compiled = compile_tree(DirectoryTree(repo))
    config = yaml.safe_load(compiled.files["manifests/flannel/configmap-kube-flannel-cfg.yaml"])
    assert '"Network": "10.32.0.0/12"' in config["data"]["net-conf.json"]

    (repo / target.path).write_bytes(FLANNEL.replace(b"v0.28.9", b"v0.28.8"))
    with pytest.raises(KgitError) as caught:
        compile_tree(DirectoryTree(repo))
    assert f"{target.path} does not match kgit.lock: expected sha256 {FLANNEL_SHA}" in str(
        caught.value
    )
