"""`hxpm index site` on the 10,000-expert bench index: build time and site size.

The index is the shared bench registry (``index_gen.build``: 10,000 experts x 10 signed
versions, with requirements). The build runs as a whole process, ``--offline`` (the
experts' repositories do not exist: every README becomes a note, so what is timed is
reading the index and writing the pages). A second build into the same folder shows the
rebuild cost (unchanged pages are compared, not rewritten).

Run: .venv/bin/python tests/benchmarks/bench_site.py [NAMES]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import BIN, env_with_home, run_ok
from index_gen import build


def _size(folder: Path) -> tuple[int, int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    pages = [p.stat().st_size for p in files if p.suffix == ".html"]
    return len(files), sum(p.stat().st_size for p in files), max(pages)


def main(names: int) -> None:
    registry = build(names)
    with tempfile.TemporaryDirectory(prefix="hxpm-bench-site-") as tmp:
        env = env_with_home(Path(tmp) / "home")
        out = Path(tmp) / "site"
        cmd = [BIN / "hxpm", "--offline", "index", "site", registry / "index.git", "-o", out]
        t0 = time.perf_counter()
        run_ok(cmd, env)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_ok(cmd, env)
        again = time.perf_counter() - t0
        files, total, biggest = _size(out)
        data = (out / "data.js").stat().st_size
    print(f"hxpm index site, {names} experts x 10 versions (offline, whole process)")
    print(f"  first build   {first:7.1f} s")
    print(f"  rebuild       {again:7.1f} s  (same index: every page unchanged)")
    print(f"  site          {total / 1e6:7.1f} MB in {files} files")
    print(f"  data.js       {data / 1e6:7.2f} MB  (what the home page searches)")
    print(f"  largest page  {biggest / 1e3:7.1f} kB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
