"""`install --dry-run` dispatched before typer (hxpm.cli.lean) answers exactly as the typer
command does: same output, same errors, same exit codes; anything else goes to typer.

Real parts: a real Git index served on 127.0.0.1, real signed releases, the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hxpm.cli.app import app
from hxpm.cli.lean import DryRun, dry_run_request
from tests.integration.distribution import serving_world


@pytest.fixture
def world(tmp_path, git_served, cli, base_dir, monkeypatch):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as w:
        w.release("expert-json", "0.4.1", keywords=["json"])
        w.release("expert-json", "0.5.0-rc.1", keywords=["json"])
        w.release("expert-sql", "0.3.0", requires=["expert-json@>=0.4"], keywords=["sql"])
        w.release("expert-legacy", "1.0.0", incompatible_with=["expert-json@>=0.4"])
        yield w


def through_typer(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The typer command itself, as `hxpm` ran it before the lean path existed."""
    from hxpm.cli.failures import run_mapping_errors

    capsys.readouterr()
    code = 0
    try:
        run_mapping_errors(lambda: app(args=args, prog_name="hxpm"), args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


SAME_AS_TYPER: list[list[str]] = [
    ["install", "sql", "--dry-run", "--json"],
    ["install", "--dry-run", "expert-sql", "--json", "--base", "hxpm/tiny-qwen3"],
    ["install", "expert-sql", "--dry-run", "--base=hxpm/tiny-qwen3"],  # text output
    ["install", "expert-json", "--dry-run", "--json", "--pre"],
    ["install", "expert-json@>=0.5.0-rc.1", "--dry-run", "--json"],
    ["install", "expert-sql", "expert-legacy", "--dry-run", "--json"],  # conflict: exit 3
    ["install", "expert-sql", "expert-legacy", "--dry-run"],  # the conflict as text
    ["install", "expert-nothing", "--dry-run", "--json"],
    ["install", "expert-sql", "--dry-run", "--json", "--base", "no/such-base"],
    ["install", "Bad Name!", "--dry-run", "--json"],
    ["--offline", "install", "expert-sql", "--dry-run", "--json"],
]


@pytest.mark.parametrize("args", SAME_AS_TYPER, ids=" ".join)
def test_the_lean_path_answers_as_the_typer_command(world, tmp_path, capsys, args) -> None:
    home = world.user(tmp_path / "user")
    assert dry_run_request(args) is not None  # these do take the lean path
    lean = world.run(home, *args)
    typer_code, typer_out, typer_err = through_typer(args, capsys)
    assert (lean.code, lean.out, lean.err) == (typer_code, typer_out, typer_err)
    if "--json" in args:
        doc = json.loads(lean.out)
        assert doc["schema"] in ("hxpm.install/1", "hxpm.error/1")
    if args[:2] == ["install", "sql"]:
        steps = [(s["name"], s["version"]) for s in json.loads(lean.out)["plan"]["steps"]]
        assert steps == [("expert-json", "0.4.1"), ("expert-sql", "0.3.0")]
    assert os.environ.get("HXPM_OFFLINE", "") == ""  # --offline stays per invocation


def test_help_and_usage_errors_still_come_from_typer(world, tmp_path) -> None:
    home = world.user(tmp_path / "user")
    r = world.run(home, "install", "expert-sql", "--dry-run", "--help")
    assert r.code == 0 and "--dry-run" in r.out and "--locked" in r.out
    r = world.run(home, "install", "expert-sql", "--dry-run", "--bogus")
    assert r.code == 2 and "--bogus" in r.err
    r = world.run(home, "install", "expert-sql", "--dry-run", "--base")
    assert r.code == 2 and "--base" in r.err


def test_a_process_dry_run_imports_neither_typer_nor_package_code(world, tmp_path) -> None:
    home = world.user(tmp_path / "user")
    probe = (
        "import sys\nfrom hxpm.cli.lean import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('typer', 'click', 'rich', 'torch', 'dulwich', 'zstandard', 'nacl') "
        "if m in sys.modules]\nsys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    env = {**os.environ, "HXPM_HOME": str(home)}
    r = subprocess.run(
        [sys.executable, "-c", probe, "install", "sql", "--dry-run", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(r.stdout)["plan"]["steps"][-1]["name"] == "expert-sql"
    assert r.stderr.strip().endswith("HEAVY="), r.stderr[-500:]


# --- which command lines take the lean path (no store needed) ------------------------------


def lean(*args: str) -> DryRun | None:
    return dry_run_request(list(args))


def test_the_plain_forms_are_recognised() -> None:
    assert lean("install", "a", "b@^1", "--dry-run") == DryRun(
        ("a", "b@^1"), None, False, False, False
    )
    assert lean("--offline", "install", "--json", "a", "--dry-run", "--pre", "--base", "x/y") == (
        DryRun(("a",), "x/y", True, True, True)
    )
    assert lean("install", "a", "--dry-run", "--base=q", "--base", "r") == DryRun(
        ("a",), "r", False, False, False
    )  # click keeps the last value too


@pytest.mark.parametrize(
    "args",
    [
        ["install", "a"],  # not a dry run: fetches and installs
        ["install", "--dry-run"],  # nothing named: typer's usage error
        ["install", "a", "--dry-run", "-h"],
        ["install", "a", "--dry-run", "--help"],
        ["install", "a", "--dry-run", "--locked", "hxpm.lock"],
        ["install", "a", "--dry-run", "--signature", "a.sig"],
        ["install", "a", "--dry-run", "--unsafe-allow-unsigned"],
        ["install", "a", "--dry-run", "--", "-b"],
        ["install", "a", "--dry-run", "--base"],
        ["install", "a", "--dry-run", "--base", "--json"],
        ["install", "a", "--dry-run", "--base="],
        ["install", "a", "--dry-run", "-"],
        ["install", "a", "--dry-run", "--offline"],  # a root option, not an install one
        ["--version", "install", "a", "--dry-run"],
        ["update", "--dry-run"],
        ["lock", "a", "--dry-run"],
        [],
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert dry_run_request(args) is None


def test_a_local_package_argument_goes_to_typer(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "pkg.expert").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert dry_run_request(["install", "pkg.expert", "--dry-run"]) is None
    assert dry_run_request(["install", "expert-a", "--dry-run"]) is not None
