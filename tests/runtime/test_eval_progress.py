"""`hxpm eval` on a terminal draws a bar that counts held-out answers (not bytes), on
stderr only; piped, it draws nothing. Run as a user runs it: a real process, its stderr a
real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 4


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXPM_")}
    env.update(HXPM_HOME=str(home), COLUMNS="100", TERM="xterm")
    return env


def _hxpm(*args: str) -> list[str]:
    return [sys.executable, "-m", "hxpm", *args]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("eval-progress") / "home"
    base = ["base", "add", "hxpm/tiny-qwen3", "--path", str(ROOT / "models" / "tiny-qwen3")]
    subprocess.run(_hxpm(*base), env=_env(home), check=True, capture_output=True, timeout=120)
    return home


def _eval_args() -> list[str]:
    return ["eval", str(ROOT / "experts" / "expert-sql"), "--limit", str(ITEMS), "--device", "cpu"]


def test_a_terminal_sees_answers_counted(home: Path) -> None:
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            _hxpm(*_eval_args()),
            env=_env(home),
            stdout=subprocess.PIPE,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
        )
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            drawn += chunk
        out, _ = proc.communicate(timeout=300)
    finally:
        os.close(primary)
    assert proc.returncode == 0, drawn.decode(errors="replace")
    screen = drawn.decode(errors="replace")
    assert "generating (base, then expert)" in screen
    assert f"{2 * ITEMS}/{2 * ITEMS}" in screen  # answers counted, base pass then expert pass
    assert "bytes" not in screen and "kB" not in screen
    assert f"on {ITEMS} held-out items" in out.decode()


def test_a_pipe_gets_no_bar(home: Path) -> None:
    done = subprocess.run(
        _hxpm(*_eval_args()), env=_env(home), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "generating" not in done.stderr and "\x1b[" not in done.stderr
    assert f"on {ITEMS} held-out items" in done.stdout
