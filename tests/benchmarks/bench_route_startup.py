"""`hxpm route PROMPT` start-up against `hxpm --version`, whole process, with 7 and with 300
installed experts (the store of bench_routing.py), optionally beside the router of another
checkout of hxpm in the same runs, so that a change's cost is not hidden by a machine whose
speed drifts (docs/performance.md).

Run: .venv/bin/python tests/benchmarks/bench_route_startup.py [--against OTHER_CHECKOUT]
(OTHER_CHECKOUT: e.g. `git worktree add /tmp/old <commit>`; its hxpm is imported through
PYTHONPATH by this venv's `hxpm`). Prints medians of interleaved runs; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_routing as bench  # its folder is on sys.path when run as a script

PROMPT = "write a postgres query for the newest orders"
REPEAT = 15


def _medians(env: dict[str, str], against: str | None) -> dict[str, float]:
    """Median wall seconds of each command, the commands run in turn REPEAT times."""
    timed = bench._timed_env(env)
    commands = [("hxpm --version", timed, ["--version"]), ("hxpm route", timed, ["route", PROMPT])]
    if against:
        commands.append(
            ("other checkout's route", {**timed, "PYTHONPATH": against}, ["route", PROMPT])
        )
    for _, e, args in commands:  # warm-up: bytecode written, files cached
        subprocess.run([bench.HXPM, *args], env=e, capture_output=True, check=True)
    walls: dict[str, list[float]] = {name: [] for name, _, _ in commands}
    for _ in range(REPEAT):
        for name, e, args in commands:
            start = time.perf_counter()
            subprocess.run([bench.HXPM, *args], env=e, capture_output=True, check=True)
            walls[name].append(time.perf_counter() - start)
    return {name: statistics.median(w) for name, w in walls.items()}


def _print(label: str, medians: dict[str, float]) -> None:
    version = medians["hxpm --version"]
    shown = ", ".join(f"{n} {s * 1000:.0f} ms ({s / version:.2f}x)" for n, s in medians.items())
    print(f"{label}: {shown}", flush=True)


def main(argv: list[str]) -> int:
    against = argv[argv.index("--against") + 1] if "--against" in argv else None
    with tempfile.TemporaryDirectory(prefix="hxpm-bench-startup-") as tmp:
        work = Path(tmp)
        home = work / "home"
        env = bench._env(home)
        tiny = bench.ROOT / "models" / "tiny-qwen3"
        bench._hxpm(env, "base", "add", "hxpm/tiny-qwen3", "--path", tiny)
        for d in sorted(p for p in bench.EXPERTS.iterdir() if (p / "manifest.json").is_file()):
            bench._hxpm(env, "install", d, "--unsafe-allow-unsigned")
        _print("7 experts", _medians(env, against))
        bench._install_synthetic(home, work)
        _print(f"{bench.SYNTHETIC + 7} experts", _medians(env, against))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
