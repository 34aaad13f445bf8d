"""Run every benchmark and print its table. Timings are reported, never asserted.

Run: make bench   (or .venv/bin/python tests/benchmarks/run_all.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_git_install
import bench_install
import bench_resolve
import bench_search
import bench_startup

if __name__ == "__main__":
    bench_startup.main()
    bench_install.main()
    bench_search.main()
    bench_git_install.main()
    bench_resolve.main()
    try:  # needs the [runtime] extra (make test installs it)
        import bench_runtime
    except ImportError as e:
        print(f"\nruntime benchmarks skipped: {e}")
    else:
        bench_runtime.main()
