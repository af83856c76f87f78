"""Object-by-object comparison and its text/JSON/markdown views, on hand-made outputs."""

from __future__ import annotations

import base64
import json

import pytest
from markdown_it import MarkdownIt

from compiler.repo.changes import compare_outputs, image_changes
from compiler.repo.commit import default_message
from compiler.views.diff import render_json, render_markdown, render_text

SECRET_BEFORE = b"""---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"b2xkLXB3LTEyMzQ="}}'
type: Opaque
data:
  password: b2xkLXB3LTEyMzQ=
  user: YWRtaW4tdXNlcg==
stringData:
  token: plain-old-token
"""
SECRET_AFTER = b"""---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
type: Opaque
data:
  password: bmV3LXB3LTU2Nzg=
  user: YWRtaW4tdXNlcg==
stringData:
  token: plain-new-token
"""
# Every value that must never be shown, in each form it takes.
SECRET_VALUES = [
    "b2xkLXB3LTEyMzQ=",
    "bmV3LXB3LTU2Nzg=",
    "YWRtaW4tdXNlcg==",
    "old-pw-1234",
    "new-pw-5678",
    "admin-user",
    "plain-old-token",
    "plain-new-token",
]

DEPLOYMENT = """---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  template:
    metadata:
      annotations:
        kubernetes.io/change-cause: "{cause}"
    spec:
      containers:
        - name: web
          image: {image}
        - name: sidecar
          image: busybox:1.36
"""
SERVICE = b"""---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80}]
"""


def _deployment(image: str, cause: str = "first") -> bytes:
    return DEPLOYMENT.format(image=image, cause=cause).encode()


def _outputs_with_an_image_update():
    before = {
        "manifests/apps/shop/web.yaml": _deployment("web:1.0") + SERVICE,
        "hosts/n1/provision.sh": b"#!/bin/bash\necho one\n",
        "index.json": b"{}",
    }
    after = {
        # The same objects split over two files: moving is not a change.
        "manifests/apps/shop/web.yaml": _deployment("web:1.1", cause="kgit: web 1.1"),
        "manifests/apps/shop/web-service.yaml": SERVICE,
        "hosts/n1/provision.sh": b"#!/bin/bash\necho two\n",
        "index.json": b'{"changed": true}',
    }
    return compare_outputs(before, after)


def test_objects_are_compared_by_identity_not_by_file():
    changes = _outputs_with_an_image_update()

    assert [(c.action, c.key.kind, c.key.name) for c in changes.objects] == [
        ("changed", "Deployment", "web")
    ]
    [change] = changes.objects
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("spec.template.metadata.annotations.kubernetes.io/change-cause", "first", "kgit: web 1.1"),
        ("spec.template.spec.containers[name=web].image", "web:1.0", "web:1.1"),
    ]
    assert [(h.action, h.path) for h in changes.host_files] == [
        ("changed", "hosts/n1/provision.sh")
    ]
    assert "-echo one\n+echo two\n" in changes.host_files[0].diff


def test_added_and_removed_objects_and_host_files():
    changes = compare_outputs(
        {"manifests/a.yaml": SERVICE, "hosts/old/x.sh": b"x\n"},
        {"manifests/a.yaml": _deployment("web:1.0"), "hosts/new/x.sh": b"x\n"},
    )
    # Sorted by identity: core group ("") first, as ObjectId orders them.
    assert [(c.action, c.key.kind) for c in changes.objects] == [
        ("removed", "Service"),
        ("added", "Deployment"),
    ]
    assert [(h.action, h.path) for h in changes.host_files] == [
        ("added", "hosts/new/x.sh"),
        ("removed", "hosts/old/x.sh"),
    ]
    assert changes.summary() == "0 changed, 1 added, 1 removed object(s); 2 host file(s) changed"


def test_identical_outputs_have_no_changes():
    files = {"manifests/a.yaml": SERVICE + _deployment("web:1.0")}
    changes = compare_outputs(files, dict(files))
    assert not changes.has_changes()
    assert render_text(changes, before="a", after="b") == (
        "kgit diff a -> b: 0 changed, 0 added, 0 removed object(s); 0 host file(s) changed\n"
        "no changes to the compiled output\n"
    )
    assert render_markdown(changes, before="a", after="b") == (
        "### kgit diff: `a` → `b`\n\nNo changes to the compiled output.\n"
    )


def test_image_changes_and_the_default_commit_message():
    changes = _outputs_with_an_image_update()
    assert [(i.container, i.before, i.after) for i in image_changes(changes)] == [
        ("web", "web:1.0", "web:1.1")
    ]
    assert default_message(changes) == (
        "kgit: web image web:1.0 -> web:1.1; 1 object changed, 1 host file changed"
    )
    added_and_removed = compare_outputs(
        {"manifests/a.yaml": SERVICE}, {"manifests/a.yaml": _deployment("web:1.0")}
    )
    assert default_message(added_and_removed) == (
        "kgit: recompile out/; 1 object added, 1 object removed"
    )


def test_text_marks_annotations_that_kgit_writes():
    text = render_text(_outputs_with_an_image_update(), before="main", after="work tree")
    lines = text.splitlines()
    assert lines[0] == (
        "kgit diff main -> work tree: 1 changed, 0 added, 0 removed object(s); "
        "1 host file(s) changed"
    )
    assert (
        "    spec.template.metadata.annotations.kubernetes.io/change-cause: first -> "
        "kgit: web 1.1  (set by kgit)"
    ) in lines
    assert "    spec.template.spec.containers[name=web].image: web:1.0 -> web:1.1" in lines
    assert "\x1b[" not in text


def test_text_colour_only_when_asked():
    coloured = render_text(_outputs_with_an_image_update(), before="a", after="b", color=True)
    assert "\x1b[32m" in coloured  # green for added lines
    assert "\x1b[31m" in coloured  # red for removed lines


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_secret_values_appear_in_no_output(fmt):
    changes = compare_outputs(
        {"manifests/secrets/prod/db.yaml": SECRET_BEFORE},
        {"manifests/secrets/prod/db.yaml": SECRET_AFTER},
    )
    render = {
        "text": lambda: render_text(changes, before="a", after="b"),
        "json": lambda: render_json(changes, before="a", after="b"),
        "markdown": lambda: render_markdown(changes, before="a", after="b"),
    }[fmt]

    output = render()

    for value in SECRET_VALUES:
        assert value not in output
    for value in ("old-pw-1234", "new-pw-5678"):
        assert base64.b64encode(value.encode()).decode() not in output
    assert "(sensitive value, changed)" in output  # which keys changed is still visible


def test_secret_fields_say_which_keys_changed():
    changes = compare_outputs(
        {"manifests/s.yaml": SECRET_BEFORE}, {"manifests/s.yaml": SECRET_AFTER}
    )
    [change] = changes.objects
    paths = {f.path: (f.before, f.after) for f in change.fields}
    assert paths["data.password"] == ("(sensitive value, before)", "(sensitive value, changed)")
    assert "data.user" not in paths  # unchanged keys are no change
    assert paths["stringData.token"] == ("(sensitive value, before)", "(sensitive value, changed)")


def test_json_output_is_complete():
    report = json.loads(render_json(_outputs_with_an_image_update(), before="a", after="b"))
    assert report["summary"] == {"changed": 1, "added": 0, "removed": 0, "hostFiles": 1}
    assert report["changes"] is True
    [obj] = report["objects"]
    assert {k: obj[k] for k in ("action", "apiVersion", "kind", "namespace", "name", "file")} == {
        "action": "changed",
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "file": "manifests/apps/shop/web.yaml",
    }
    assert [f["setByKgit"] for f in obj["fields"]] == [True, False]
    assert report["hostFiles"][0]["path"] == "hosts/n1/provision.sh"


def _cells(tokens) -> list[str]:
    return [
        tokens[i + 1].content
        for i, token in enumerate(tokens)
        if token.type in ("td_open", "th_open")
    ]


def test_markdown_renders_with_a_table_and_collapsible_diffs():
    text = render_markdown(_outputs_with_an_image_update(), before="origin/main", after="HEAD")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)

    assert tokens[0].type == "heading_open"
    cells = _cells(tokens)
    assert cells[:6] == ["change", "count", "objects changed", "1", "objects added", "0"]
    assert "`apps/v1 Deployment shop/web`" in cells
    assert "`hosts/n1/provision.sh`" in cells
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.info for f in fences] == ["diff", "diff"]
    changed = [
        line
        for line in fences[0].content.splitlines()
        if line[:1] in "+-" and "image: web:" in line
    ]
    assert [line[0] + line.split("image: ")[1] for line in changed] == ["-web:1.0", "+web:1.1"]
    assert "-echo one\n+echo two\n" in fences[1].content
    html = "".join(t.content for t in tokens if t.type == "html_block")
    assert html.count("<details>") == 2 and html.count("</details>") == 2
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert "<table>" in rendered
    assert "<summary>changed: <code>apps/v1 Deployment shop/web</code></summary>" in rendered


def test_markdown_fence_survives_backticks_in_the_content():
    script = b"#!/bin/bash\necho ```not a fence```\n"
    changes = compare_outputs({"hosts/n/x.sh": b"#!/bin/bash\n"}, {"hosts/n/x.sh": script})
    tokens = MarkdownIt("commonmark").parse(render_markdown(changes, before="a", after="b"))
    [fence] = [t for t in tokens if t.type == "fence"]
    assert "+echo ```not a fence```\n" in fence.content


def test_markdown_leaves_out_diffs_beyond_the_comment_limit():
    changes = _outputs_with_an_image_update()
    full = render_markdown(changes, before="a", after="b")
    second = full.rindex("<details>")  # room for the summary and the first diff only
    text = render_markdown(changes, before="a", after="b", limit=second)
    assert text.count("<details>") == 1
    assert text.endswith(
        "_1 more diff(s) left out to fit a comment; run `kgit diff` locally to see them all._\n"
    )
