"""The loader's fast path (plain data, positions read later) against its careful path.

``loader._read_stream`` first builds data with ``_PlainBuilder``, which records no positions
and gives up on anything unusual; the careful ``_Builder`` (positions, every problem worded)
is the reference. For any text, the fast path must either give exactly the careful path's
data (same types: 1, 1.0 and True are different values here) or step aside.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compile import load as loader
from compiler.compile.load import Positions, load_all_trusted, parse_text
from compiler.core.errors import SpecError

# Plain scalars whose YAML 1.1 meaning is not a string, or is easily mistaken.
TRICKY_SCALARS = [
    "yes", "No", "on", "OFF", "y", "true", "False", "~", "null", "", "0", "-1", "+7", "0x1F",
    "0o17", "017", "1_000", "1:30", "1:30:07", "1.5", "1e3", "6.02e+23", ".inf", "-.Inf",
    ".nan", "2026-11-29", "2026-11-29 10:00:00", "2001-13-45", "<<", "=", "'<<'", '"yes"',
    "'1'", "!!str 1", "!!int 7", "!!binary aGk=", "!!set {a}", "!custom x", "&a 1", "*a",
    "&b [1, 2]", "[1, yes, ~]", "{a: 1, b: [x]}", "{a: 1, a: 2}", "? [a]\n  : 1",
]  # fmt: skip

# Keys the careful path accepts; the bad ones (duplicates, '<<', yes, 1, ~) are the fixed
# cases of test_fast_path_steps_aside_for_what_it_does_not_handle.
KEYS = ["a", "b", "name", "'<<'", "'yes'", "spec", "image"]

plain_data = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.sampled_from(TRICKY_SCALARS),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=20,
)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """A mapping document mixing safe_dump output with raw, hand-written scalars."""
    lines = []
    for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique=True)):
        if draw(st.booleans()):
            lines.append(f"{key}: {draw(st.sampled_from(TRICKY_SCALARS))}")
        else:
            dumped = yaml.safe_dump(
                draw(plain_data), default_flow_style=draw(st.sampled_from([None, True, False]))
            )
            indented = "\n".join("  " + line for line in dumped.splitlines())
            lines.append(f"{key}:\n{indented}")
    prefix = draw(st.sampled_from(["", "---\n", "%YAML 1.1\n---\n"]))
    return prefix + "\n".join(lines) + "\n" + draw(st.sampled_from(["", "---\nx: 1\n"]))


def strict(value: Any) -> Any:
    """A form where == also compares types (True != 1 != 1.0) and NaN equals NaN."""
    if isinstance(value, dict):
        return ("map", [(k, strict(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [strict(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def careful(text: str) -> list[Any] | str:
    try:
        return [strict(data) for data, _ in loader._read_stream_with_positions(text, "t.yaml")]
    except SpecError as exc:
        return str(exc)


def fast(text: str) -> list[Any] | None:
    """The fast path's data, or None where it steps aside."""
    parser = yaml.CSafeLoader(text)
    try:
        return [strict(data) for data in loader._plain_documents(parser)]
    except (loader._NotPlain, yaml.YAMLError, RecursionError):
        return None
    finally:
        parser.dispose()


needs_libyaml = pytest.mark.skipif(
    not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml"
)


ACCEPTED: list[bool] = []  # what the fast path did with each generated text


@needs_libyaml
@settings(max_examples=400, deadline=None, derandomize=True)
@given(yaml_texts())
def test_fast_path_gives_the_careful_data_or_steps_aside(text: str) -> None:
    got = fast(text)
    ACCEPTED.append(got is not None)
    if got is not None:
        assert got == careful(text), text


@needs_libyaml
def test_the_fast_path_takes_most_generated_texts() -> None:
    """Else the property above compares next to nothing (and the speed-up is gone)."""
    if not ACCEPTED:
        test_fast_path_gives_the_careful_data_or_steps_aside()
    assert sum(ACCEPTED) > len(ACCEPTED) / 2, f"{sum(ACCEPTED)} of {len(ACCEPTED)}"


# The tricky scalars the careful path refuses or that need it (tags, anchors, aliases,
# flow mappings with duplicate keys, complex keys, bad dates, merge-key words).
NOT_PLAIN = {
    "=", "<<", "!!str 1", "!!int 7", "!!binary aGk=", "!!set {a}", "!custom x", "&a 1",
    "*a", "&b [1, 2]", "{a: 1, a: 2}", "? [a]\n  : 1", "2001-13-45",
}  # fmt: skip


@needs_libyaml
@pytest.mark.parametrize("scalar", TRICKY_SCALARS)
def test_each_tricky_scalar_alone(scalar: str) -> None:
    text = f"key: {scalar}\n"
    got = fast(text)
    assert (got is None) == (scalar in NOT_PLAIN)
    if got is not None:
        assert got == careful(text)


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key: the careful path words it
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "base: &b {x: 1}\nc:\n  <<: *b\n",  # merge key
        "a: !!binary aGk=\n",  # refused tag
        "? [a]\n: 1\n",  # complex key
        "1: a\n",  # non-string key
        "a: 2001-13-45\n",  # looks like a date, is none
        "a: " + "[" * 70 + "]" * 70 + "\n",  # deeper than MAX_DEPTH
    ],
)
def test_fast_path_steps_aside_for_what_it_does_not_handle(text: str) -> None:
    assert fast(text) is None


def test_a_plain_parse_reads_positions_only_when_asked() -> None:
    text = "spec:\n  apps:\n  - name: web\n    image: nginx:1.27\n"
    data, positions = parse_text(text, "cluster.yaml")
    assert data == {"spec": {"apps": [{"name": "web", "image": "nginx:1.27"}]}}
    assert positions._tables is None  # nothing recorded yet
    assert str(positions.of(("spec", "apps", 0, "image"))) == "cluster.yaml:4:12"
    assert str(positions.of(("spec", "apps", 0, "image"), key=True)) == "cluster.yaml:4:5"
    assert str(positions.of(("spec", "apps", 0, "missing"))) == "cluster.yaml:3:5"


def test_positions_read_later_equal_those_of_a_careful_read() -> None:
    text = "a: 1\nb:\n  - x\n  - {c: d}\n---\ne: [f, g]\n"
    lazy = loader._read_stream(text, "t.yaml")
    eager = loader._read_stream_with_positions(text, "t.yaml")
    assert [d for d, _ in lazy] == [d for d, _ in eager]
    for (_, lazy_pos), (_, eager_pos) in zip(lazy, eager, strict=True):
        assert dict(lazy_pos.values) == dict(eager_pos.values)
        assert dict(lazy_pos.keys) == dict(eager_pos.keys)


def test_positions_without_tables_fall_back_to_the_file_start() -> None:
    assert str(Positions("x.yaml").of(("a", 1))) == "x.yaml:1:1"


def test_dates_and_numbers_keep_their_types() -> None:
    data, _ = parse_text("a: 2026-11-29\nb: 0x1F\nc: 1.5\nd: yes\ne: ~\n", "t.yaml")
    assert data == {"a": datetime.date(2026, 11, 29), "b": 31, "c": 1.5, "d": True, "e": None}
    assert type(data["d"]) is bool


def test_trusted_files_read_as_pyyaml_reads_them(upstream: Path, repo_root: Path) -> None:
    """load_all_trusted (kgit's own out/, baselines, vendored files) against PyYAML's loader."""
    files = sorted(upstream.glob("*.y*ml")) + sorted((repo_root / "out").rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        text = path.read_text()
        expected = [strict(d) for d in yaml.load_all(text, Loader=yaml.SafeLoader)]
        assert [strict(d) for d in load_all_trusted(text)] == expected, path


@pytest.mark.parametrize(
    "text", ["a: &x 1\nb: *x\n", "---\n---\na: 1\n", "a: !!binary aGk=\n", "- 1\n- yes\n"]
)
def test_trusted_text_with_anchors_or_tags_reads_as_pyyaml_reads_it(text: str) -> None:
    expected = [strict(d) for d in yaml.load_all(text, Loader=yaml.SafeLoader)]
    assert [strict(d) for d in load_all_trusted(text)] == expected
