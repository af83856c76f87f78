"""The bash programs kgit sends to a node, one per SSH call, on the channel's stdin.

Pure text builders: every value that comes from the spec or from kgit is quoted with
``shlex.quote``; node names never appear (the remote paths are constants). Each program is
one brace group read whole before it runs (``{ ...; } </dev/null``), so nothing it starts
can read the rest of the program, or the secrets in it, from stdin.

``KGIT_HOST_ROOT`` on the host (empty on a real node) makes every path relative to a
directory instead of /: it is how the tests' sshd serves several nodes from one machine,
and it is passed on to ``provision.sh --root``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

KGIT_DIR = "/var/lib/kgit"
REMOTE_SCRIPT = f"{KGIT_DIR}/provision.sh"
LOCK_DIR = f"{KGIT_DIR}/hosts-apply.lock"
HISTORY_FILE = f"{KGIT_DIR}/hosts-history.jsonl"
DRY_RUN_MARKER = "@@kgit-dry-run@@"

_PRELUDE = """set -u
ROOT="${KGIT_HOST_ROOT:-}"
ROOT="${ROOT%/}"
"""


def _program(body: str) -> str:
    return "{\n" + _PRELUDE + body.rstrip("\n") + "\n} </dev/null\n"


def _assign(name: str, value: str) -> str:
    return f"{name}={shlex.quote(value)}\n"


def facts_program(script: str, os_family: str, packages: Sequence[str]) -> str:
    """Read-only: key=value facts, then the dry run of ``script`` after a marker line."""
    query = (
        "dpkg-query -W -f='${Version}' \"$1\" 2>/dev/null"
        if os_family == "debian"
        else "rpm -q --qf '%{VERSION}' \"$1\" 2>/dev/null"
    )
    names = " ".join(shlex.quote(p) for p in packages)
    body = (
        _assign("SCRIPT", script)
        + 'kv() { printf \'%s=%s\\n\' "$1" "$2"; }\n'
        + 'os_field() { sed -n "s/^$1=//p" "$ROOT/etc/os-release" 2>/dev/null '
        + "| tr -d '\"' | head -n 1; }\n"
        + f'pkg() {{ local v; if v="$({query})"; then printf \'%s\' "$v"; fi; }}\n'
        + 'kv os_id "$(os_field ID)"\n'
        + 'kv os_version "$(os_field VERSION_ID)"\n'
        + f'for p in {names}; do kv "pkg.$p" "$(pkg "$p")"; done\n'
        + "for f in admin.conf kubelet.conf; do\n"
        + '  if [ -f "$ROOT/etc/kubernetes/$f" ]; then kv "$f" 1; else kv "$f" 0; fi\n'
        + "done\n"
        + "kv apiserver_image \"$(sed -n 's/^ *image: *//p' "
        + '"$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml" 2>/dev/null | head -n 1)"\n'
        + 'tmp="$(umask 077 && mktemp -d)"\n'
        + 'printf \'%s\' "$SCRIPT" >"$tmp/provision.sh"\n'
        + 'bash "$tmp/provision.sh" --dry-run ${ROOT:+--root "$ROOT"} >"$tmp/out" 2>&1\n'
        + 'kv dry_run_status "$?"\n'
        + f"echo {DRY_RUN_MARKER}\n"
        + 'cat "$tmp/out"\n'
        + 'rm -rf -- "$tmp"\n'
    )
    return _program(body)


def phases_program(
    script: str, phases: Sequence[str], secrets: Mapping[str, str] | None = None
) -> str:
    """Install the node's provision.sh and run these phases in order, stopping at a failure.

    ``secrets`` (KGIT_JOIN_TOKEN...) become environment variables of the script: they are
    only in this program's text, which travels on the encrypted channel's stdin."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted((secrets or {}).items())
    )
    names = " ".join(shlex.quote(p) for p in phases)
    body = (
        exports
        + _assign("SCRIPT", script)
        + f'dir="$ROOT{KGIT_DIR}"\n'
        + '(umask 077 && mkdir -p "$dir" && printf \'%s\' "$SCRIPT" >"$dir/.provision.sh.new")'
        + " || exit 1\n"
        + 'chmod 0700 "$dir/.provision.sh.new" && mv -f "$dir/.provision.sh.new" '
        + '"$dir/provision.sh" || exit 1\n'
        + f"for phase in {names}; do\n"
        + '  bash "$dir/provision.sh" ${ROOT:+--root "$ROOT"} --phase "$phase" || exit "$?"\n'
        + "done\n"
    )
    return _program(body)


def command_program(*commands: Sequence[str]) -> str:
    """Run commands in order (each a quoted argv), stopping at the first failure."""
    lines = "".join(" ".join(shlex.quote(a) for a in argv) + ' || exit "$?"\n' for argv in commands)
    return _program(lines)


def upload_certs_program(config_with_key: str) -> str:
    """``kubeadm init phase upload-certs`` with the certificate key in a config on stdin.

    kubeadm reads ``InitConfiguration.certificateKey`` from ``--config``; /dev/stdin keeps
    the key off disk and argv. Its stdout (which repeats the key) is thrown away."""
    body = (
        _assign("CONFIG", config_with_key)
        + "printf '%s\\n' \"$CONFIG\" | kubeadm init phase upload-certs --upload-certs "
        + "--config /dev/stdin >/dev/null\n"
    )
    return _program(body)


def read_file_program(path: str) -> str:
    return _program(f'cat -- "$ROOT"{shlex.quote(path)}\n')


def lock_program(holder: str) -> str:
    """Take the host lock: prints ``acquired``, or ``held`` and the holder's line."""
    body = (
        _assign("HOLDER", holder)
        + f'lock="$ROOT{LOCK_DIR}"\n'
        + 'mkdir -p "$(dirname "$lock")" || exit 1\n'
        + 'if mkdir "$lock" 2>/dev/null; then\n'
        + '  printf \'%s\\n\' "$HOLDER" >"$lock/holder"; echo acquired\n'
        + "else\n"
        + '  echo held; cat "$lock/holder" 2>/dev/null || true\n'
        + "fi\n"
    )
    return _program(body)


def unlock_program(holder: str) -> str:
    """Release the lock if (and only if) it is still ours."""
    body = (
        _assign("HOLDER", holder)
        + f'lock="$ROOT{LOCK_DIR}"\n'
        + 'if [ "$(cat "$lock/holder" 2>/dev/null)" = "$HOLDER" ]; then rm -rf -- "$lock"; fi\n'
    )
    return _program(body)


def history_append_program(entry: str) -> str:
    body = (
        _assign("ENTRY", entry)
        + f'file="$ROOT{HISTORY_FILE}"\n'
        + 'mkdir -p "$(dirname "$file")" && printf \'%s\\n\' "$ENTRY" >>"$file"\n'
    )
    return _program(body)
