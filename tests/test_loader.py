"""Loading cluster.yaml: every way a file can be unreadable is one clear error, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.cli.app import main
from compiler.compile.load import load_documents_text, load_tree_document, parse_text
from compiler.core.errors import SpecError
from compiler.core.sources import DirectoryTree, MemoryTree

BAD_FILES = [
    pytest.param(b"", ["cluster.yaml:1:1: the file is empty"], id="empty-file"),
    pytest.param(
        b"# only a comment\n\n", ["cluster.yaml:1:1: the file is empty"], id="only-comments"
    ),
    pytest.param(
        b"- a\n- b\n",
        ["cluster.yaml:1:1: the document must be a mapping (key: value pairs), not a list"],
        id="list-document",
    ),
    pytest.param(
        b"hello\n",
        [
            "cluster.yaml:1:1: the document must be a mapping (key: value pairs), "
            "not a single string"
        ],
        id="scalar-document",
    ),
    pytest.param(
        b"---\n",
        ["cluster.yaml:2:1: the document must be a mapping (key: value pairs), not empty"],
        id="empty-document",
    ),
    pytest.param(
        b"a: 1\n---\nb: 2\n",
        ["cluster.yaml:3:1: expected exactly one YAML document"],
        id="two-documents",
    ),
    pytest.param(
        b"spec:\n  nodes: [a, b\n",
        [
            "cluster.yaml:3:1: YAML syntax error: while parsing a flow sequence expected ',' "
            "or ']', but got '<stream end>'"
        ],
        id="unclosed-bracket",
    ),
    pytest.param(
        b"spec:\n\tnodes: []\n",
        [
            "cluster.yaml:2:1: YAML syntax error: while scanning for the next token found "
            "character '\\t' that cannot start any token (indent with spaces; YAML does not "
            "allow tabs there)"
        ],
        id="tab-indentation",
    ),
    pytest.param(
        b"kind: Cluster\nspec: {}\nkind: Other\n",
        ["cluster.yaml:3:1: duplicate key 'kind' (first defined at line 1)"],
        id="duplicate-key",
    ),
    pytest.param(
        b"a: 1\nb: \xff\xfe\n",
        ["cluster.yaml:2:4: the file is not valid UTF-8 text"],
        id="not-utf8",
    ),
    pytest.param(
        b"a: x\x07y\n",
        [
            "cluster.yaml:1:5: the character U+0007 is not allowed in YAML; remove it (or write "
            "it as an escape inside a double-quoted string)"
        ],
        id="control-character",
    ),
    pytest.param(
        b"a: !!python/object/apply:os.system [echo hi]\n",
        [
            "cluster.yaml:1:4: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not "
            "supported here"
        ],
        id="python-tag",
    ),
    pytest.param(
        b"a: !secret x\n",
        ["cluster.yaml:1:4: YAML tag '!secret' is not supported here"],
        id="custom-tag",
    ),
    pytest.param(
        b"a: !!set {x, y}\n",
        ["cluster.yaml:1:4: YAML tag 'tag:yaml.org,2002:set' is not supported here"],
        id="set-tag",
    ),
    pytest.param(
        b"a: 2024-13-45\n",
        ["cluster.yaml:1:4: '2024-13-45' is not a valid date; quote it to make it a string"],
        id="impossible-date",
    ),
    pytest.param(
        b"a: &x [*x]\n",
        ["cluster.yaml:1:8: a YAML alias refers to a value that contains it"],
        id="recursive-alias",
    ),
    pytest.param(
        b"1: a\n",
        ["cluster.yaml:1:1: mapping key '1' must be a string; quote it"],
        id="number-key",
    ),
    pytest.param(
        b"a: &a {x: 1}\nb: {<<: [*a, 3]}\n",
        [
            "cluster.yaml:2:14: invalid merge key '<<': expected a mapping for merging, but "
            "found scalar"
        ],
        id="bad-merge-key",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), BAD_FILES)
def test_unreadable_file_is_one_clear_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raw: bytes,
    expected: list[str],
) -> None:
    (tmp_path / "cluster.yaml").write_bytes(raw)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "-f", "cluster.yaml"]) == 1
    captured = capsys.readouterr()
    count = len(expected)
    assert captured.err.splitlines() == [f"error: {line}" for line in expected] + [
        f"{count} error{'s' if count != 1 else ''} found"
    ]


def test_missing_file_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "-f", "nope.yaml"]) == 1
    assert capsys.readouterr().err == "error: nope.yaml:1:1: file not found\n1 error found\n"


def test_directory_instead_of_file_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "specs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "-f", "specs"]) == 1
    assert capsys.readouterr().err == (
        "error: specs:1:1: is a directory, not a file\n1 error found\n"
    )


def test_directory_in_a_memory_tree_is_one_clear_error() -> None:
    tree = MemoryTree({"cluster.yaml/x": b"a: 1\n"})
    with pytest.raises(SpecError) as caught:
        load_tree_document(tree, "cluster.yaml")
    assert str(caught.value) == "cluster.yaml:1:1: is a directory, not a file"


def test_alias_bomb_is_refused_quickly() -> None:
    # "billion laughs": 9 levels of 9 aliases would expand to 387 million strings.
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(SpecError) as caught:
        parse_text("\n".join(lines) + "\n", "bomb.yaml")
    assert "YAML aliases expand to more than 100000 values" in str(caught.value)


def test_a_large_document_without_aliases_is_not_mistaken_for_a_bomb() -> None:
    # 10,000 apps of a real cluster are far more than 100,000 values, all written out.
    text = "".join(f"k{i}: [a, b, c, d, e, f, g, h, i, j]\n" for i in range(15_000))
    data, _positions = parse_text(text, "big.yaml")
    assert len(data) == 15_000 and data["k14999"][-1] == "j"


def test_deep_nesting_is_refused_without_a_recursion_error() -> None:
    with pytest.raises(SpecError) as caught:
        parse_text("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    assert str(caught.value).startswith("deep.yaml:1:")


def test_positions_point_at_keys_and_values() -> None:
    data, positions = parse_text("spec:\n  nodes:\n    - name: a\n      address: 10.0.0.1\n", "c")
    assert data == {"spec": {"nodes": [{"name": "a", "address": "10.0.0.1"}]}}
    assert str(positions.of(("spec", "nodes", 0, "address"))) == "c:4:16"
    assert str(positions.of(("spec", "nodes", 0, "address"), key=True)) == "c:4:7"
    assert str(positions.of(("spec", "nodes", 0, "missing"))) == "c:3:7"  # its mapping


def test_merge_keys_and_anchors_still_work() -> None:
    data, _ = parse_text("base: &b {x: 1}\nmine: {<<: *b, y: 2}\n", "c")
    assert data == {"base": {"x": 1}, "mine": {"x": 1, "y": 2}}


def test_byte_order_mark_is_accepted() -> None:
    data, _ = parse_text("\ufeffa: 1\n", "c")
    assert data == {"a": 1}


def test_multi_document_stream_skips_empty_documents_and_keeps_positions() -> None:
    docs = load_documents_text("a: 1\n---\n---\nb: 2\n", "o.yaml")
    assert [d for d, _ in docs] == [{"a": 1}, {"b": 2}]
    assert str(docs[1][1].of(("b",))) == "o.yaml:4:4"


def test_multi_document_stream_refuses_unsafe_tags() -> None:
    with pytest.raises(SpecError) as caught:
        load_documents_text("a: 1\n---\nb: !!python/name:os.system x\n", "o.yaml")
    assert str(caught.value) == (
        "o.yaml:3:4: YAML tag 'tag:yaml.org,2002:python/name:os.system' is not supported here"
    )


def test_symlink_out_of_the_repository_reads_as_missing(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("a: 1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "cluster.yaml").symlink_to(outside)
    with pytest.raises(SpecError) as caught:
        load_tree_document(DirectoryTree(repo), "cluster.yaml")
    assert str(caught.value) == "cluster.yaml:1:1: file not found"


def test_a_folder_symlinked_out_of_the_repository_reads_as_missing(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "patch.yaml").write_text("a: 1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "overlays").symlink_to(outside)
    (repo / "inside").mkdir()
    (repo / "inside" / "link.yaml").symlink_to(repo / "inside" / "real.yaml")
    (repo / "inside" / "real.yaml").write_text("b: 2\n")
    tree = DirectoryTree(repo)
    assert not tree.is_file("overlays/patch.yaml")
    assert not tree.is_dir("overlays")
    with pytest.raises(FileNotFoundError):
        tree.read_bytes("overlays/patch.yaml")
    # A symlink that stays inside the tree is followed.
    assert tree.read_bytes("inside/link.yaml") == b"b: 2\n"


def _modest_bomb(prefix: str) -> str:
    """One document whose aliases expand to 67,875 values: under the limit on its own."""
    lines = [f"{prefix}0: &{prefix}0 [x, x, x, x, x, x, x, x, x, x]"]
    for level, count in ((1, 10), (2, 10), (3, 10), (4, 5)):
        refs = ", ".join([f"*{prefix}{level - 1}"] * count)
        lines.append(f"{prefix}{level}: &{prefix}{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_second_document_in_cluster_yaml_is_refused_before_it_is_built() -> None:
    # The second document alone is a bomb past the limit: building it first would report
    # that (after the work); cluster.yaml stops at the second document's start.
    text = "a: 1\n---\n" + _modest_bomb("b") + "c: [" + ", ".join(["*b4"] * 3) + "]\n"
    with pytest.raises(SpecError) as caught:
        parse_text(text, "cluster.yaml")
    assert str(caught.value) == "cluster.yaml:3:1: expected exactly one YAML document"


def test_alias_expansion_is_bounded_per_file_not_per_document() -> None:
    one = _modest_bomb("a")
    assert len(load_documents_text(one, "overlays/x.yaml")) == 1  # one alone is fine
    with pytest.raises(SpecError) as caught:
        load_documents_text(one + "---\n" + _modest_bomb("a"), "overlays/x.yaml")
    assert str(caught.value).startswith("overlays/x.yaml:11:")
    assert "YAML aliases expand to more than 100000 values" in str(caught.value)


def test_a_long_string_repeated_through_aliases_is_refused() -> None:
    # 1,000 values only, but 1,000 copies of a 20,000-character string: 20 MB of text.
    text = "a: &s " + "x" * 20_000 + "\nb: [" + ", ".join(["*s"] * 1000) + "]\n"
    with pytest.raises(SpecError) as caught:
        load_documents_text(text, "overlays/x.yaml")
    assert str(caught.value).startswith("overlays/x.yaml:2:")
    assert "YAML aliases copy more than 10000000 characters of text" in str(caught.value)
