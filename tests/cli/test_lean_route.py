"""`hxpm route PROMPT` dispatched before typer (hxpm.cli.lean) answers exactly as the typer
command does: same bytes, same errors and exit codes; every other form goes to typer.

Real parts: the demo experts installed from their source folders, real processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hxpm.cli.lean import RouteRequest, route_request

PROMPT = "count the users in the users table"

SAME_AS_TYPER: list[list[str]] = [
    ["route", PROMPT],
    ["route", PROMPT, "--json"],
    ["route", "--json", "why is the sky blue?", "--base", "hxpm/tiny-qwen3"],
    ["route", "find people who KNOW Alice", "--base=hxpm/tiny-qwen3"],
    ["--offline", "route", PROMPT],
    ["route", PROMPT, "--json", "--base", "no/such-base"],  # not found: exit 4
    ["route", "\x1b[31mred\x1b[0m and a table"],  # printed inert, both ways
]


@pytest.mark.parametrize("args", SAME_AS_TYPER, ids=range(len(SAME_AS_TYPER)))
def test_the_lean_route_answers_as_the_typer_command(cli, demo, hxpm_process, args) -> None:
    assert route_request(args) is not None  # these do take the lean path
    lean = hxpm_process(*args)
    typed = cli(*args)
    assert (lean.code, lean.out, lean.err) == (typed.code, typed.out, typed.err)
    assert lean.code in (0, 4) and lean.out


@pytest.mark.parametrize(
    "args",
    [
        ["route", PROMPT, "--explain"],
        ["route", "--eval", "prompts.tsv"],
        ["route"],
        ["route", "two", "prompts"],
        ["route", ""],
        ["route", "--help"],
        ["route", "-x"],
        ["route", "--", "-x"],
        ["route", PROMPT, "--base"],
        ["install", PROMPT],
    ],
    ids=range(10),
)
def test_every_other_form_goes_to_typer(args) -> None:
    assert route_request(args) is None


def test_route_request_reads_what_it_takes() -> None:
    got = route_request(["--offline", "route", "--base", "b/x", PROMPT, "--json"])
    assert got == RouteRequest(PROMPT, "b/x", True)


def test_a_lean_route_process_imports_neither_typer_nor_rich(demo, hxpm_home) -> None:
    probe = (
        "import sys\nfrom hxpm.cli.lean import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('typer', 'click', 'rich', 'torch', 'dulwich', 'nacl') "
        "if m in sys.modules]\nsys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, "route", PROMPT],
        env={**os.environ, "HXPM_HOME": str(hxpm_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.stdout.startswith("expert-sql"), r.stdout + r.stderr
    assert r.stderr.strip().endswith("HEAVY="), r.stderr[-500:]
