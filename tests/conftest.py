"""Shared fixtures: an isolated store, the CLI run in-process, real keys and packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.factories import make_base_dir, make_expert_dir

pytest_plugins = ["tests.git_fixtures"]

# Loopback Git and HTTP servers must never be reached through a proxy from the environment.
os.environ["NO_PROXY"] = ",".join(filter(None, ["127.0.0.1,localhost", os.environ.get("NO_PROXY")]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def hxpm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HXPM_HOME", str(home))
    monkeypatch.setenv("HXPM_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("HXPM_DEBUG", raising=False)
    monkeypatch.setenv("HXPM_OFFLINE", "")  # `--offline` sets it for the process; undo after
    return home


@pytest.fixture
def cli(hxpm_home: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``hxpm ARGS`` in this process and return (exit code, stdout, stderr)."""
    from hxpm.cli.app import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def hxpm_process(hxpm_home: Path) -> Callable[..., CliResult]:
    """Run ``python -m hxpm ARGS`` as a real process on this test's store (stdin optional)."""

    def run(*args: str | Path, stdin: str | None = None, timeout: float = 120) -> CliResult:
        r = subprocess.run(
            [sys.executable, "-m", "hxpm", *map(str, args)],
            input=stdin,
            env={**os.environ, "HXPM_HOME": str(hxpm_home)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CliResult(r.returncode, r.stdout, r.stderr)

    return run


@dataclass
class Published:
    """A signed package and everything a user needs to trust it."""

    package: Path
    signature: Path
    public_key: str
    key_id: str


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    return make_base_dir(tmp_path / "bases")


@pytest.fixture
def publish(
    cli: Callable[..., CliResult], tmp_path: Path, base_dir: Path
) -> Callable[..., Published]:
    """Build and sign a package with a publisher key (generated once per test)."""
    from hxpm.core.digest import base_model_digest

    digest = base_model_digest(base_dir)
    state: dict[str, str] = {}

    def make(
        name: str = "expert-demo", version: str = "0.1.0", *, key: str = "publisher", **kw: Any
    ) -> Published:
        if key not in state:
            r = cli("key", "generate", "--name", key, "--json")
            assert r.code == 0, r.err
            state[key] = r.json()["public_key"]
        kw.setdefault("bases", (("hxpm/tiny-qwen3", digest),))
        src = make_expert_dir(tmp_path / "src", name, version, **kw)
        r = cli("package", src, "-o", tmp_path / "dist", "--json")
        assert r.code == 0, r.err
        pkg = Path(r.json()["packages"][0]["path"])
        r = cli("sign", pkg, "--key-name", key, "--json")
        assert r.code == 0, r.err
        sig = Path(r.json()["signature"])
        return Published(pkg, sig, state[key], r.json()["key_id"])

    return make


@pytest.fixture
def python() -> str:
    return sys.executable
