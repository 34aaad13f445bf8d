"""`hxpm search` over a 10,000-expert index cache against `hxpm --version` (whole processes).

Run: .venv/bin/python tests/benchmarks/bench_search.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench_search_cache import build_texts
from common import BIN, env_with_home, median_seconds, print_table, run_ok

from hxpm.index.cache import IndexCache
from hxpm.index.model import VersionLine
from tests.unit.index import COMMIT


def main(experts: int = 10_000, versions: int = 2, repeat: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        lines = [VersionLine.parse(t, where="bench") for t in build_texts(experts, versions)]
        cache = IndexCache(home / "index-cache.sqlite")
        cache.replace_index("main", COMMIT, lines)
        cache.close()
        env = env_with_home(home)
        hxpm = str(BIN / "hxpm")
        t_version = median_seconds(lambda: run_ok([hxpm, "--version"], env), repeat)
        t_search = median_seconds(lambda: run_ok([hxpm, "search", "sql", "--json"], env), repeat)
        t_cap = median_seconds(
            lambda: run_ok([hxpm, "search", "graph", "--capability", "tech:sql", "--json"], env),
            repeat,
        )
    print_table(
        f"Search over {experts} experts x {versions} versions (median of {repeat})",
        [
            ("hxpm search sql --json", t_search, "hxpm --version", t_version, 2.0),
            ("hxpm search graph --capability tech:sql", t_cap, "hxpm --version", t_version, 2.0),
        ],
    )


if __name__ == "__main__":
    main()
