"""The CLI must start without importing the runtime (torch, transformers, peft)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "peft")
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


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["list", "--json"],
                                  ["base", "list", "--json"], ["trust", "list", "--json"]])
def test_commands_do_not_import_the_runtime(args, tmp_path):
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], env=env,
                       capture_output=True, text=True, timeout=60)
    line = [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], r.stderr


def test_console_script_help_and_version(tmp_path):
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-m", "hxpm", "--version"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("hxpm ")
    r = subprocess.run([sys.executable, "-m", "hxpm", "list", "--json"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout) == {"schema": "hxpm.list/1", "experts": []}
