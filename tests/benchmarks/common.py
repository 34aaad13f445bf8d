"""Helpers for side-by-side benchmarks: time whole processes, print a ratio table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent


def run_ok(cmd: Sequence[str | Path], env: dict[str, str] | None = None) -> None:
    r = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(
            f"benchmark command failed ({r.returncode}): {cmd}\n"
            f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        )


def median_seconds(
    fn: Callable[[], None], repeat: int, setup: Callable[[], None] | None = None
) -> float:
    samples = []
    for _ in range(repeat):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def print_table(title: str, rows: list[tuple[str, float, str, float, float]]) -> None:
    """rows: (what, hxpm seconds, reference name, reference seconds, target ratio)."""
    print(f"\n{title}")
    print(f"{'measure':<38} {'hxpm':>9} {'reference':<26} {'ref':>9} {'ratio':>7} {'target':>8}")
    for what, ours, ref_name, ref, target in rows:
        ratio = ours / ref if ref else float("inf")
        mark = "ok" if ratio <= target else "MISSED"
        print(
            f"{what:<38} {ours * 1000:>7.0f}ms {ref_name:<26} {ref * 1000:>7.0f}ms "
            f"{ratio:>6.2f}x {'<=' + str(target) + 'x':>7} {mark}"
        )


def env_with_home(home: Path) -> dict[str, str]:
    """The environment of a user's hxpm: its own home, and Python's bytecode cache on
    (kept outside the checkout), even where the caller runs with PYTHONDONTWRITEBYTECODE:
    without it every start compiles every module again (~80 ms), which no installed hxpm
    does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    prefix = Path(os.environ.get("HXPM_BENCH_CACHE") or Path.home() / ".cache" / "hxpm-bench")
    env.update(
        HXPM_HOME=str(home),
        HXPM_KEY_DIR=str(home / "keys"),
        PYTHONPYCACHEPREFIX=str(prefix / "pycache"),
    )
    return env
