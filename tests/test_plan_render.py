"""format_plan: Terraform-like text, Terraform-shaped JSON, markdown for pull requests."""

from __future__ import annotations

import json

import pytest
from markdown_it import MarkdownIt

from compiler.core.identity import ObjectId
from compiler.core.objdiff import yaml_diff
from compiler.reconcile.model import Action, ActionKind, Plan, PlanBase
from compiler.views.plan import format_plan

BASE = PlanBase("d1g3st", "abc123", "lab-admin", "https://192.168.10.10:6443", "applyset-x-v1")
WEB = ObjectId("apps/v1", "Deployment", "web", "nginx")
NS = ObjectId("v1", "Namespace", "", "web")
JOB = ObjectId("batch/v1", "Job", "ingress-nginx", "admission-create")
OLD = ObjectId("v1", "ConfigMap", "web", "old")
SECRET = ObjectId("v1", "Secret", "web", "db")

BEFORE = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"image": "nginx:1.14.2"}}
AFTER = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"image": "nginx:1.15.0"}}
SECRET_BODY = {"apiVersion": "v1", "kind": "Secret", "data": {"password": "aHVudGVyMg=="}}


def plan() -> Plan:
    return Plan(
        BASE,
        (
            Action(ActionKind.CREATE, NS, "not on the cluster", "", None, {"kind": "Namespace"}),
            Action(
                ActionKind.UPDATE,
                WEB,
                "spec.image differs",
                yaml_diff(BEFORE, AFTER, label=str(WEB)),
                BEFORE,
                AFTER,
                "41",
            ),
            Action(ActionKind.REPLACE, JOB, "spec.template is immutable", "", {}, {}, "7"),
            Action(ActionKind.NOOP, SECRET, "", "", SECRET_BODY, SECRET_BODY, "3"),
            Action(ActionKind.DELETE, OLD, "no longer in out/manifests", "", {}, None, "9"),
        ),
    )


def test_text_reads_like_terraform():
    assert format_plan(plan(), "text") == (
        "Cluster: lab-admin (https://192.168.10.10:6443)\n"
        "\n"
        "+ create Namespace/web\n"
        "\n"
        "~ update Deployment.apps/web/nginx (spec.image differs)\n"
        "    --- a/Deployment.apps/web/nginx\n"
        "    +++ b/Deployment.apps/web/nginx\n"
        "    @@ -1,4 +1,4 @@\n"
        "     apiVersion: apps/v1\n"
        "     kind: Deployment\n"
        "     spec:\n"
        "    -  image: nginx:1.14.2\n"
        "    +  image: nginx:1.15.0\n"
        "\n"
        "-/+ replace Job.batch/ingress-nginx/admission-create (spec.template is immutable)\n"
        "\n"
        "- delete ConfigMap/web/old\n"
        "\n"
        "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.\n"
    )


def test_text_without_changes_says_so():
    quiet = Plan(BASE, (Action(ActionKind.NOOP, WEB),))
    assert format_plan(quiet, "text") == (
        "Cluster: lab-admin (https://192.168.10.10:6443)\n"
        "No changes. The cluster matches out/manifests (1 object).\n"
    )


def test_json_follows_terraforms_plan_shape():
    document = json.loads(format_plan(plan(), "json"))
    assert document["format_version"] == "1.0"
    changes = {c["address"]: c for c in document["resource_changes"]}
    assert {a: c["change"]["actions"] for a, c in changes.items()} == {
        "Namespace/web": ["create"],
        "Deployment.apps/web/nginx": ["update"],
        "Job.batch/ingress-nginx/admission-create": ["delete", "create"],
        "Secret/web/db": ["no-op"],
        "ConfigMap/web/old": ["delete"],
    }
    web = changes["Deployment.apps/web/nginx"]
    assert (web["mode"], web["type"], web["name"]) == ("managed", "apps/v1/Deployment", "nginx")
    assert web["change"]["before"] == BEFORE and web["change"]["after"] == AFTER
    assert document["summary"] == {"create": 1, "update": 1, "replace": 1, "delete": 1, "no-op": 1}
    assert document["has_changes"] is True


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_every_format_masks_secret_values(fmt):
    text = format_plan(plan(), fmt)
    assert "aHVudGVyMg==" not in text and "hunter2" not in text


def test_json_masks_a_secret_even_in_a_plan_built_elsewhere():
    secret = json.loads(format_plan(plan(), "json"))["resource_changes"][3]
    assert secret["change"]["before"]["data"] == {"password": "(sensitive value)"}


def test_markdown_has_a_summary_table_and_one_details_block_per_change():
    text = format_plan(plan(), "markdown")
    tokens = MarkdownIt().enable("table").parse(text)
    assert [t.type for t in tokens if t.type == "table_open"] == ["table_open"]
    assert text.count("<details>") == 4 and text.count("</details>") == 4
    assert "<summary><code>~ update</code> Deployment.apps/web/nginx</summary>" in text
    assert "```diff\n--- a/Deployment.apps/web/nginx" in text
    assert text.rstrip().endswith("**Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.**")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown plan format 'yaml'"):
        format_plan(plan(), "yaml")
