"""The CLI must start without importing the runtime (torch, transformers, peft)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

RUNTIME = ("torch", "transformers", "peft")
# Git, resolver and crypto libraries cost start-up time that `--version`, `--help` and
# `list` should not pay.
LIBRARIES = ("dulwich", "resolvelib", "nacl", "zstandard")
PROBE = """
import sys
from hxpm.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


def _heavy_imports(args: list[str], heavy: tuple[str, ...], tmp_path) -> list[str]:
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["list", "--json"],
        ["base", "list", "--json"],
        ["trust", "list", "--json"],
        ["index", "list", "--json"],
        ["search", "x", "--json"],
    ],
)
def test_commands_do_not_import_the_runtime(args, tmp_path):
    assert _heavy_imports(args, RUNTIME, tmp_path) == ["HEAVY="]


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["list", "--json"], ["search", "sql", "--json"]]
)
def test_fast_commands_do_not_import_git_resolver_or_crypto(args, tmp_path):
    assert _heavy_imports(args, LIBRARIES, tmp_path) == ["HEAVY="]


def test_console_script_help_and_version(tmp_path):
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-m", "hxpm", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0 and r.stdout.startswith("hxpm ")
    r = subprocess.run(
        [sys.executable, "-m", "hxpm", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0 and json.loads(r.stdout) == {"schema": "hxpm.list/1", "experts": []}
