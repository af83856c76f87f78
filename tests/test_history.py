"""The apply history kept in the ApplySet parent."""

from __future__ import annotations

import json

from compiler.reconcile.history import (
    KEEP,
    HistoryEntry,
    history_patch,
    read_history,
    with_entry,
)
from compiler.views.history import format_history


def entry(number: int) -> HistoryEntry:
    return HistoryEntry(
        revision=f"{number:040x}",
        time=f"2026-01-01T00:00:{number:02d}Z",
        user="alice@laptop pid 1 commit abc",
        summary=f"Plan: {number} to create.",
    )


def test_only_the_last_entries_are_kept():
    entries: list[HistoryEntry] = []
    for number in range(KEEP + 5):
        entries = with_entry(entries, entry(number))
    assert len(entries) == KEEP == 20
    assert entries[0] == entry(5) and entries[-1] == entry(24)


def test_patch_round_trips_through_the_parent_and_names_only_the_history_key():
    patch = history_patch("kgit-lab", [entry(1), entry(2)])
    assert patch["metadata"] == {"name": "kgit-lab", "namespace": "kube-system"}
    assert list(patch["data"]) == ["history.json"]
    assert read_history(patch) == [entry(1), entry(2)]


def test_unreadable_history_reads_as_empty():
    assert read_history(None) == []
    assert read_history({"data": {"history.json": "not json"}}) == []


def test_text_lists_newest_first_and_json_is_parseable():
    text = format_history([entry(1), entry(2)])
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "REVISION", "RESULT", "USER", "SUMMARY"]
    assert lines[1].startswith("2026-01-01T00:00:02Z  000000000000  applied  alice@laptop")
    assert lines[1].endswith("Plan: 2 to create.")
    assert [e["summary"] for e in json.loads(format_history([entry(1), entry(2)], "json"))] == [
        "Plan: 2 to create.",
        "Plan: 1 to create.",
    ]
    assert format_history([]) == "No applies recorded on this cluster yet.\n"
