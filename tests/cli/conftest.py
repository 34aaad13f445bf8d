"""Fixtures of the CLI tests: the demo experts installed once, a private copy per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPERTS = ROOT / "experts"


def _hxpm(*args: str | Path) -> int:
    """Run ``hxpm ARGS`` in this process outside any test's store fixture: its exit code."""
    from hxpm.cli.app import main

    try:
        main([str(a) for a in args])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 7 demo experts installed once for the test session, through the real install path.

    Installing them takes about 1.5 s; doing it afresh for each of the ~130 tests that route
    over them cost minutes of the suite. Each test gets its own copy (``demo``), so none sees
    another's writes.
    """
    root = tmp_path_factory.mktemp("demo-store")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HXPM_HOME", str(root / "home"))
        env.setenv("HXPM_KEY_DIR", str(root / "keys"))
        env.setenv("HXPM_OFFLINE", "")
        env.delenv("HXPM_DEBUG", raising=False)
        code = _hxpm("base", "add", "hxpm/tiny-qwen3", "--path", ROOT / "models" / "tiny-qwen3")
        assert code == 0
        for src in sorted(p for p in EXPERTS.iterdir() if (p / "manifest.json").is_file()):
            assert _hxpm("install", src, "--unsafe-allow-unsigned") == 0, src
    return root / "home"


@pytest.fixture
def demo(demo_store: Path, hxpm_home: Path) -> None:
    """This test's store: a private copy of the session's installed demo store."""
    shutil.copytree(demo_store, hxpm_home)
