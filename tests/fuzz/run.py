"""`make fuzz`: run every fuzz target (or those named) for a time budget each.

    python -m tests.fuzz.run [--seconds N] [--engine auto|atheris|hypothesis] [TARGET...]

``--seconds`` defaults to ``HXPM_FUZZ_SECONDS`` or 60. With atheris installed (libFuzzer,
coverage-guided) each target runs in its own process under it; otherwise hypothesis runs
it in rounds until the budget is spent. An input that raises anything outside hxpm's error
family is saved as tests/fuzz/regressions/<target>/<sha256-prefix>.bin (replayed by the
test suite from then on) and the run exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fuzz.seeds import REGRESSIONS


def save_regression(target: str, data: bytes) -> Path:
    folder = REGRESSIONS / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    return path


def run_hypothesis(target: str, seconds: float) -> int:
    from hypothesis import HealthCheck, given, settings

    from tests.fuzz.targets import run_one
    from tests.fuzz.test_fuzz import inputs

    last: list[bytes] = []

    @settings(
        max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(inputs(target))
    def check(data: bytes) -> None:
        try:
            run_one(target, data)
        except Exception:
            last[:] = [data]  # the last failing call is the shrunk example
            raise

    end, rounds = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        try:
            check()
        except Exception as exc:  # noqa: BLE001 (reported, saved, and the run fails)
            saved = save_regression(target, last[0]) if last else None
            print(f"{target}: {type(exc).__name__}: {exc}\n  saved: {saved}", flush=True)
            return 1
        rounds += 1
    print(f"{target}: {rounds * 500} examples in {seconds:.0f} s, nothing found", flush=True)
    return 0


def run_atheris(target: str, seconds: float) -> int:
    cmd = [sys.executable, "-m", "tests.fuzz.atheris_driver", target, str(int(seconds))]
    return subprocess.run(cmd, timeout=seconds + 120, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    from tests.fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run")
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help=f"one of {', '.join(sorted(TARGETS))} (default: all)",
    )
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("HXPM_FUZZ_SECONDS", "60"))
    )
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(TARGETS))}")
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") else "hypothesis"
    print(f"fuzzing with {engine}, {args.seconds:.0f} s per target", flush=True)
    failed = 0
    for target in args.targets or sorted(TARGETS):
        run = run_atheris if engine == "atheris" else run_hypothesis
        failed += run(target, args.seconds) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
