"""Stage 2, validate: the JSON Schema (shape), then semantic checks (meaning).

Every problem is collected with its ``file:line:col`` and raised together as one
``SpecError``; nothing after this stage can receive a value the checks did not accept.

Messages name the field as a JSON path (``spec.nodes[1].address: ...``), the way
Kubernetes itself reports invalid fields. Semantic checks still run when the schema found
problems, but skip every field the schema already complained about, so each mistake is
reported once.
"""

from __future__ import annotations

from compiler.compile.load import Document
from compiler.compile.validate.cluster_checks import ClusterChecks
from compiler.compile.validate.fields import as_dict, json_path
from compiler.compile.validate.images import image_reference_problem
from compiler.compile.validate.schema_messages import located_problem, schema_findings
from compiler.compile.validate.workload_checks import WorkloadChecks
from compiler.core.errors import SpecError
from compiler.core.sources import SourceTree

__all__ = [
    "image_reference_problem",
    "json_path",
    "validate_document",
]


def validate_document(doc: Document, tree: SourceTree) -> None:
    """Raise one SpecError listing every problem of the document, or return None.

    ``tree`` is where ``source:`` and overlay paths are looked up.
    """
    findings = schema_findings(doc)
    problems = [located_problem(doc, f) for f in findings]
    known_bad = [f.path for f in findings]
    spec = as_dict(doc.data.get("spec"))
    cluster = ClusterChecks(doc, tree, known_bad)
    cluster.run(spec)
    workloads = WorkloadChecks(doc, tree, known_bad)
    workloads.run(spec)
    problems += cluster.problems + workloads.problems
    if problems:
        raise SpecError(problems)
