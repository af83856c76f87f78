"""The fast block writer of compiler.core.yamlout against PyYAML itself, the reference.

kgit writes every out/ file through ``yamlout.dump``; its fast path must produce exactly
the bytes PyYAML would, for any plain data, or out/ would change with the code path.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compile.load import load_all_trusted
from compiler.core import yamlout

# Strings that stress quoting and block styles: YAML indicators, ambiguous words, spaces at
# the ends, unicode, tabs, and multi-line text with and without a final newline.
tricky_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "yes",
            "on",
            "1e3",
            "0755",
            "~",
            "",
            " lead",
            "trail ",
            "a: b",
            "- x",
            "#c",
            "a #b",
            "k8s:1.0",
            "line\nnext\n",
            "line\nnext",
            "\nfirst",
            "  indented\ntext\n",
            "x\n\n",
            "tab\there",
            "é ü 中",
            "'q'",
            '"dq"',
            "*alias",
            "&anchor",
            "!tag",
            "%x",
            "@x",
            "`x`",
            "{a}",
            "[a]",
            "a,b",
            "?",
            ":",
            "-",
            "null",
            "=",
            "<<",
        ]
    ),
)
# Words that yamlout writes without asking PyYAML (when no reader could misread them).
WORDS = [
    "nginx", "v1.2.3", "1.2.3", "1.0", "0.5", "10Mi", "1e3", "1e3x", "1E+3", "0x1F", "0x1G",
    "0755", "0755x", "0o17", "0b101", "1_000", "1__0", "2026-11-29", "2026-11-29x", "y", "n",
    "on", "Off", "NULL", "Null", "nan", "inf", "a..b", "a/b/", "a-", "9", "09", "0", "._x",
    "a.b-c_d/e", "x" * 200, "nginx:1.27", "registry.example:5000/team/app:1.2.0", "/healthz",
    "/", "//", "a:", "a::b", "1:30", "1:30:07", "12:60", "0:0", "/a:b", "a:/b", "http://x/y",
    "cluster.yaml#spec.apps[0]", "a#b", "a[", "a]", "a[]", "a#", "a#:b", "1#2", "[a]", "#a",
]  # fmt: skip
words = st.one_of(
    st.sampled_from(WORDS),
    st.from_regex(r"[A-Za-z0-9/:#\[][A-Za-z0-9._/:#\[\]-]{0,12}", fullmatch=True),
)
tricky_text = st.one_of(tricky_text, words)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), tricky_text)
keys = st.one_of(tricky_text.filter(lambda k: len(k) <= 128 and "\n" not in k))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.dictionaries(keys, documents, min_size=1, max_size=5),
        st.lists(documents, min_size=1, max_size=5),
    )
)
def test_fast_writer_equals_pyyaml_for_any_plain_data(value: object) -> None:
    assert yamlout.dump(value) == yamlout._pyyaml_dump(value)


def test_fast_writer_equals_pyyaml_on_real_manifests(upstream: Path, repo_root: Path) -> None:
    files = sorted(glob.glob(str(upstream / "*.y*ml")))
    files += sorted(glob.glob(str(repo_root / "out" / "**" / "*.yaml"), recursive=True))
    documents = [d for f in files for d in load_all_trusted(Path(f).read_text()) if d]
    assert len(documents) > 100
    for document in documents:
        assert yamlout._fast_dump(document) == yamlout._pyyaml_dump(document)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"k": 1.5}, id="float-goes-to-pyyaml"),
        pytest.param({"x" * 129: 1}, id="long-key-goes-to-pyyaml"),
        pytest.param("just a string", id="scalar-document"),
    ],
)
def test_unusual_values_fall_back_to_pyyaml(value: object) -> None:
    with pytest.raises(yamlout._Unsupported):
        yamlout._fast_dump(value)
    assert yamlout.dump(value) == yamlout._pyyaml_dump(value)


@pytest.mark.parametrize("word", WORDS)
def test_a_word_is_written_as_pyyaml_writes_it(word: str) -> None:
    text = yamlout._pyyaml_dump(word).removesuffix("\n...\n").removesuffix("\n")
    assert yamlout._scalar_text.__wrapped__(word) == text


@settings(max_examples=300, deadline=None, derandomize=True)
@given(words)
def test_any_word_is_written_as_pyyaml_writes_it(word: str) -> None:
    text = yamlout._pyyaml_dump(word).removesuffix("\n...\n").removesuffix("\n")
    assert yamlout._scalar_text.__wrapped__(word) == text
