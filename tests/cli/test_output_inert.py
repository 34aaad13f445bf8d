"""Strings from packages, indexes and servers reach the terminal inert."""

from __future__ import annotations

import io

import pytest

from hxpm.cli import output

HOSTILE = "ok\x1b]0;owned\x07\x1b[2J\x9b31m [bold]x[/] \u202eevil\u2066"


def test_inert_shows_every_terminal_acting_character_as_an_escape() -> None:
    shown = output.inert(HOSTILE)
    assert not any(ch in shown for ch in "\x1b\x07\x9b\u202e\u2066")
    assert shown == ("ok\\x1b]0;owned\\x07\\x1b[2J\\x9b31m [bold]x[/] \\u202eevil\\u2066")
    assert output.inert("line one\n\tline two") == "line one\n\tline two"  # layout stays


def test_table_and_warn_print_hostile_strings_inert(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(
        output,
        "_consoles",
        {
            "out": Console(file=out, force_terminal=True, width=200, highlight=False),
            "err": Console(file=err, force_terminal=True, width=200, highlight=False),
        },
    )
    output.table(["name", "description"], [["expert-x", HOSTILE]])
    output.warn(HOSTILE)
    for text in (out.getvalue(), err.getvalue()):
        assert "]0;owned" in text and "\x1b]0" not in text and "\x1b[2J" not in text
        assert "\u202e" not in text and "[bold]x[/]" in text  # markup shown, not applied
