"""The server stack loads only for `hxpm serve`: every other command stays light."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import sys
from hxpm.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
SERVE_STACK = ("fastapi", "uvicorn", "starlette", "prometheus_client", "pydantic")
print("SERVE=" + ",".join(m for m in SERVE_STACK if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["list", "--json"], ["serve", "--help"]])
def test_commands_do_not_import_the_server_stack(args, tmp_path):
    env = {**os.environ, "HXPM_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert [x for x in r.stdout.splitlines() if x.startswith("SERVE=")] == ["SERVE="]
