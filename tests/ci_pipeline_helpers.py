"""Running the shell steps of docs/ci/'s pipelines as their runners would, on this machine.

A pipeline's own shell (every ``run:`` of a GitHub job, every ``script`` line of a GitLab
job) runs with bash as the runner runs it, in a cluster repository made by the test,
against the test API server. Only what is not shell is stood in for: ``uses:`` actions
(checkout is the test's repository; artifacts are copied), ``${{ }}`` expressions and
``if:`` conditions (from a table the test gives: an expression it does not know fails the
test), ``pip`` (records what it was asked to install; kgit is already installed), and the
forge's REST API (``FakeForge``: the few GitHub and GitLab endpoints the pipelines call,
served on 127.0.0.1 and checked for the token).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

KGIT_BIN = Path(sys.executable).parent
TOKEN = "test-forge-token"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class ForgeState:
    """What the fake forge holds: comments/notes, pull requests, runs and artifacts."""

    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> {id, body}
    merged: dict[str, tuple[int, str]] = field(default_factory=dict)  # merge sha -> (pr, head)
    runs: list[dict[str, Any]] = field(default_factory=list)  # {id, head_sha, name, jobs}
    artifacts: dict[int, dict[str, bytes]] = field(default_factory=dict)  # job id -> files
    requests: list[tuple[str, str]] = field(default_factory=list)


class FakeForge:
    """GitHub's and GitLab's REST endpoints that docs/ci/ calls, on 127.0.0.1."""

    def __init__(self) -> None:
        self.state = ForgeState()
        self._next_id = 100
        state, forge = self.state, self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                state.requests.append((method, url.path))
                token = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN")
                if token not in (f"Bearer {TOKEN}", TOKEN):
                    self._send(401, {"message": "Bad credentials"})
                    return
                body = self._body() if method in ("POST", "PATCH", "PUT") else b""
                status, payload = forge.route(method, url.path, url.query, body)
                self._send(status, payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _comment_body(self, body: bytes) -> str:
        if body.startswith(b"{"):
            return json.loads(body)["body"]  # GitHub: JSON
        return urllib.parse.parse_qs(body.decode())["body"][0]  # GitLab: form-encoded

    def route(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        state = self.state
        params = urllib.parse.parse_qs(query)
        comments = re.fullmatch(
            r"/repos/o/r/issues/7/comments|/api/v4/projects/1/merge_requests/7/notes", path
        )
        one = re.fullmatch(
            r"/repos/o/r/issues/comments/(\d+)|/api/v4/projects/1/merge_requests/7/notes/(\d+)",
            path,
        )
        if comments and method == "GET":
            return 200, list(state.comments.values())
        if comments and method == "POST":
            new = {"id": self.new_id(), "body": self._comment_body(body)}
            state.comments[new["id"]] = new
            return 201, new
        if one and method in ("PATCH", "PUT"):
            ident = int(one.group(1) or one.group(2))
            state.comments[ident]["body"] = self._comment_body(body)
            return 200, state.comments[ident]
        if match := re.fullmatch(r"/repos/o/r/commits/(\w+)/pulls", path):
            pr = state.merged.get(match.group(1))
            return 200, [{"number": pr[0], "head": {"sha": pr[1]}}] if pr else []
        if match := re.fullmatch(
            r"/api/v4/projects/1/repository/commits/(\w+)/merge_requests", path
        ):
            pr = state.merged.get(match.group(1))
            return 200, [{"iid": pr[0], "sha": pr[1]}] if pr else []
        if path == "/repos/o/r/actions/runs":
            assert params["event"] == ["pull_request"] and params["status"] == ["success"]
            runs = [r for r in state.runs if r["head_sha"] == params["head_sha"][0]]
            return 200, {"workflow_runs": runs[::-1]}  # newest first
        if path == "/api/v4/projects/1/merge_requests/7/pipelines":
            return 200, [
                {"id": r["id"], "sha": r["head_sha"], "status": "success"} for r in state.runs
            ][::-1]
        if match := re.fullmatch(r"/api/v4/projects/1/pipelines/(\d+)/jobs", path):
            run = next(r for r in state.runs if r["id"] == int(match.group(1)))
            return 200, run["jobs"]
        if match := re.fullmatch(r"/api/v4/projects/1/jobs/(\d+)/artifacts/(.+)", path):
            files = state.artifacts.get(int(match.group(1)), {})
            name = match.group(2)
            return (200, files[name]) if name in files else (404, {"message": "404 Not Found"})
        return 404, {"message": f"no route {method} {path}"}


def substitute(text: str, values: dict[str, str]) -> str:
    """``${{ expr }}`` replaced from ``values``; an unknown expression fails the test."""

    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert expression in values, f"the test does not know ${{{{ {expression} }}}}"
        return values[expression]

    return EXPRESSION.sub(one, text)


def shim_bin(root: Path) -> Path:
    """A PATH entry with a ``pip`` that records its arguments, and kgit's own bin dir."""
    shims = root / "shims"
    shims.mkdir(exist_ok=True)
    pip = shims / "pip"
    pip.write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "$(dirname "$0")/pip.log"\n')
    pip.chmod(0o755)
    return shims


def run_shell(
    script: str, env: dict[str, str], cwd: Path, shims: Path
) -> subprocess.CompletedProcess[str]:
    """Run a step's shell as GitHub (``bash -e -o pipefail``) and GitLab (``set -eo pipefail``)
    both do, with the shims and kgit first on PATH."""
    path = os.pathsep.join([str(shims), str(KGIT_BIN), os.environ.get("PATH", "")])
    full_env = {**os.environ, **env, "PATH": path}
    full_env.pop("KUBECONFIG", None)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_artifact(source: Path, target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target_dir / source.name)


@dataclass
class GitHubRunner:
    """Runs one job of a GitHub workflow: its shell steps for real, the rest stood in for."""

    workflow: dict[str, Any]
    repo: Path
    temp: Path
    forge: FakeForge
    shims: Path
    values: dict[str, str]  # ${{ }} expressions the test knows
    env: dict[str, str]  # the runner's variables (GITHUB_SHA, ...)
    # `if:` conditions: expression -> (step outcomes, whether the job failed) -> run it?
    conditions: dict[str, Any] = field(
        default_factory=lambda: {
            "github.event.pull_request.head.repo.full_name == github.repository": (
                lambda outcomes, failed: not failed  # a same-repository pull request
            ),
            "steps.plan.outcome == 'success'": (
                lambda outcomes, failed: not failed and outcomes.get("plan") == "success"
            ),
            "always() && github.event.pull_request.head.repo.full_name == github.repository": (
                lambda outcomes, failed: True
            ),
            "always()": lambda outcomes, failed: True,
        }
    )

    def run_job(self, name: str, run_id: int) -> tuple[bool, str]:
        """Run job ``name`` as run ``run_id``; (succeeded, the log of its shell steps)."""
        job = self.workflow["jobs"][name]
        values = dict(self.values)
        base_env = {
            k: substitute(str(v), values)
            for k, v in {**self.workflow.get("env", {}), **job.get("env", {})}.items()
        }
        outcomes: dict[str, str] = {}
        failed = False
        log = []
        for index, step in enumerate(job["steps"]):
            condition = step.get("if")
            if condition is None:
                should_run = not failed
            else:
                assert condition in self.conditions, f"the test does not know if: {condition}"
                should_run = self.conditions[condition](outcomes, failed)
            if not should_run:
                outcomes[step.get("id", str(index))] = "skipped"
                continue
            ok = self._step(step, values, base_env, run_id, log)
            outcomes[step.get("id", str(index))] = "success" if ok else "failure"
            failed = failed or not ok
        if not failed and "review" in name:
            head = self.values["github.event.pull_request.head.sha"]
            self.forge.state.runs.append(
                {"id": run_id, "head_sha": head, "name": self.workflow["name"], "jobs": []}
            )
        return not failed, "\n".join(log)

    def _step(
        self,
        step: dict,
        values: dict[str, str],
        base_env: dict[str, str],
        run_id: int,
        log: list[str],
    ) -> bool:
        uses = step.get("uses")
        with_ = {k: substitute(str(v), values) for k, v in (step.get("with") or {}).items()}
        if uses is not None:
            action = uses.split("@")[0]
            if action in ("actions/checkout", "actions/setup-python"):
                return True  # the test's repository and Python are already there
            artifacts = self.forge.state.artifacts
            if action == "actions/upload-artifact":
                source = Path(with_["path"])
                artifacts.setdefault(run_id, {})[with_["name"]] = source.read_bytes()
                artifacts[run_id][with_["name"] + ":filename"] = source.name.encode()
                return True
            if action == "actions/download-artifact":
                stored = artifacts.get(int(with_["run-id"]), {})
                if with_["name"] not in stored:
                    log.append(f"download-artifact: no artifact {with_['name']}")
                    return False
                target = Path(with_["path"])
                target.mkdir(parents=True, exist_ok=True)
                filename = stored[with_["name"] + ":filename"].decode()
                (target / filename).write_bytes(stored[with_["name"]])
                return True
            raise AssertionError(f"the test does not know the action {uses}")
        output = self.temp / f"output-{run_id}-{step.get('id', 'step')}"
        output.write_text("")
        env = {
            **base_env,
            **self.env,
            **{k: substitute(str(v), values) for k, v in (step.get("env") or {}).items()},
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.temp / "summary.md"),
            "GITHUB_API_URL": self.forge.url,
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_WORKFLOW": self.workflow["name"],
        }
        done = run_shell(step["run"], env, self.repo, self.shims)
        log.append(f"$ {step.get('name', step['run'])}\n{done.stdout}{done.stderr}")
        for line in output.read_text().splitlines():
            key, _, value = line.partition("=")
            values[f"steps.{step.get('id')}.outputs.{key}"] = value
        return done.returncode == 0


@dataclass
class GitLabRunner:
    """Runs one job of a GitLab pipeline: before_script, script and after_script in bash."""

    pipeline: dict[str, Any]
    repo: Path
    builds: Path
    forge: FakeForge
    shims: Path
    env: dict[str, str]  # CI/CD variables and predefined ones

    def run_job(self, name: str, job_id: int, pipeline_id: int) -> tuple[bool, str]:
        job = self.pipeline[name]
        before = job.get("before_script", self.pipeline["default"]["before_script"])
        env = {
            **{k: str(v) for k, v in self.pipeline.get("variables", {}).items()},
            **{k: str(v) for k, v in job.get("variables", {}).items()},
            **self.env,
            "CI_JOB_ID": str(job_id),
            "CI_BUILDS_DIR": str(self.builds),
            "CI_API_V4_URL": f"{self.forge.url}/api/v4",
            "CI_PROJECT_ID": "1",
        }
        done = run_shell("\n".join([*before, *job["script"]]), env, self.repo, self.shims)
        after = run_shell("\n".join(job.get("after_script", [])), env, self.repo, self.shims)
        log = f"{done.stdout}{done.stderr}\n-- after_script --\n{after.stdout}{after.stderr}"
        artifacts = job.get("artifacts") or {}
        if done.returncode == 0 or artifacts.get("when") == "always":
            self.forge.state.artifacts[job_id] = {
                path: (self.repo / path).read_bytes()
                for path in artifacts.get("paths", [])
                if (self.repo / path).is_file()
            }
        # Each GitLab job starts from a clean checkout: drop what this one left behind.
        subprocess.run(["git", "clean", "-fdq"], cwd=self.repo, check=True, timeout=60)
        if done.returncode == 0 and name == "kgit-review":
            head = self.env["CI_COMMIT_SHA"]
            self.forge.state.runs.append(
                {"id": pipeline_id, "head_sha": head, "jobs": [{"id": job_id, "name": name}]}
            )
        return done.returncode == 0, log
