"""kgit vendor url: any manifest at an HTTPS URL, pinned to the digest the user gives.

The server is a local HTTPS server on 127.0.0.1 with a certificate made for the test by
``openssl`` and trusted through SSL_CERT_FILE, so the download goes through the same TLS
verification as a real one (never the internet). It serves a real upstream manifest.
"""

from __future__ import annotations

import hashlib
import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.cli.app import main
from compiler.compile.lockfile import VendorError, parse_lock
from compiler.repo.vendor import url_release

OPENSSL = shutil.which("openssl")
MANIFEST = "gateway/nginx-gateway-fabric-v2.6.7-crds.yaml"


@pytest.fixture
def https(tmp_path: Path, upstream: Path, monkeypatch) -> Iterator[tuple[str, bytes]]:
    """(base URL, the bytes served at /crds.yaml) of an HTTPS server on 127.0.0.1."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed (it makes the test's certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [OPENSSL, *request, *subject, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    body = (upstream / MANIFEST).read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/crds.yaml"
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(body if found else b"not found")

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", body
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_vendor_url_downloads_checks_the_digest_and_pins_it(https, tmp_path, capsys):
    base, body = https
    digest = hashlib.sha256(body).hexdigest()
    spec = str(tmp_path / "cluster.yaml")
    argv = ["vendor", "-f", spec, "url", f"{base}/crds.yaml", "--sha256", digest]
    assert main([*argv, "--path", "vendor/ngf-crds-v2.6.7.yaml"]) == 0
    assert capsys.readouterr().out == (
        f"vendored {base}/crds.yaml -> vendor/ngf-crds-v2.6.7.yaml (sha256 {digest})\n"
        "recorded in kgit.lock; to use it, set spec.addons[].source: "
        "vendor/ngf-crds-v2.6.7.yaml in the spec\n"
    )
    assert (tmp_path / "vendor" / "ngf-crds-v2.6.7.yaml").read_bytes() == body
    entry = parse_lock((tmp_path / "kgit.lock").read_text())["vendor/ngf-crds-v2.6.7.yaml"]
    assert (entry.addon, entry.version, entry.url, entry.sha256) == (
        "url",
        "",
        f"{base}/crds.yaml",
        digest,
    )


def test_vendor_url_refuses_another_digest_and_writes_nothing(https, tmp_path, capsys):
    base, body = https
    wrong = "0" * 64
    spec = str(tmp_path / "cluster.yaml")
    assert main(["vendor", "-f", spec, "url", f"{base}/crds.yaml", "--sha256", wrong]) == 1
    digest = hashlib.sha256(body).hexdigest()
    assert capsys.readouterr().err == (
        f"error: {base}/crds.yaml has sha256 {digest}, expected {wrong} (hint: the file "
        "changed upstream or on the way; nothing was written)\n"
    )
    assert not (tmp_path / "vendor").exists() and not (tmp_path / "kgit.lock").exists()


def test_vendor_url_needs_a_digest(https, tmp_path, capsys):
    base, _body = https
    spec = str(tmp_path / "cluster.yaml")
    assert main(["vendor", "-f", spec, "url", f"{base}/crds.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: vendoring {base}/crds.yaml needs --sha256: ")
    assert not (tmp_path / "vendor").exists()


@pytest.mark.parametrize(
    ("url", "path", "message"),
    [
        pytest.param(
            "http://example.com/a.yaml",
            None,
            "'http://example.com/a.yaml' is not an HTTPS URL (hint: give the https:// "
            "address of the manifest)",
            id="plain-http",
        ),
        pytest.param(
            "https://example.com/a.yaml",
            "../a.yaml",
            "'../a.yaml' is not a file under vendor/ (hint: choose one with --path, such as "
            "vendor/cert-manager-v1.16.2.yaml)",
            id="path-outside-vendor",
        ),
        pytest.param(
            "https://example.com/",
            None,
            "'vendor/' is not a file under vendor/ (hint: choose one with --path, such as "
            "vendor/cert-manager-v1.16.2.yaml)",
            id="no-file-name",
        ),
    ],
)
def test_bad_url_requests_are_refused(url, path, message):
    with pytest.raises(VendorError) as caught:
        url_release(url, path)
    assert str(caught.value) == message


def test_default_path_is_the_urls_file_name():
    target = url_release("https://example.com/releases/v1.5.1/standard-install.yaml")
    assert target.path == "vendor/standard-install.yaml"
