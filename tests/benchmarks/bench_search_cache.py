"""Index model and cache at scale: 10,000 experts x 10 versions
(docs/architecture.md §12, search row).

Prints timings (never asserts them): parsing signed lines, ``replace_index``, searches,
``lines_for``, and ``update_index`` of a few names.

Run: .venv/bin/python tests/benchmarks/bench_search_cache.py [EXPERTS] [VERSIONS]
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)

from hxpm.index.cache import IndexCache
from hxpm.index.model import VersionLine
from tests.unit.index import COMMIT, line_doc

WORDS = (
    "sql",
    "json",
    "cypher",
    "python",
    "rust",
    "english",
    "graph",
    "query",
    "table",
    "schema",
    "parse",
    "format",
    "classify",
    "summarise",
    "translate",
    "code",
)


def build_texts(experts: int, versions: int) -> list[str]:
    rng = random.Random(7)
    texts = []
    for i in range(experts):
        a, b = rng.sample(WORDS, 2)
        name = f"expert-{a}-{b}-{i}"
        for v in range(versions):
            doc = line_doc(
                name,
                f"0.{v}.0",
                description=f"Adapter for {a} and {b} number {i}",
                capabilities=[f"tech:{a}", f"format:{b}"],
                routing={"keywords": [a, b, f"{a}{b}"], "exclude_keywords": [], "priority": 0.5},
            )
            texts.append(json.dumps(doc, separators=(",", ":")))
    return texts


def ms(fn: Callable[[], object], repeat: int = 20) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main(experts: int = 10_000, versions: int = 10) -> None:
    t0 = time.perf_counter()
    texts = build_texts(experts, versions)
    print(f"built and signed {len(texts)} lines in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    lines = [VersionLine.parse(t, where="bench") for t in texts]
    parse_s = time.perf_counter() - t0
    print(f"parse: {parse_s:.2f} s ({parse_s / len(lines) * 1e6:.0f} us/line)")
    with tempfile.TemporaryDirectory() as tmp:
        cache = IndexCache(Path(tmp) / "index-cache.sqlite")
        t0 = time.perf_counter()
        cache.replace_index("main", COMMIT, lines)
        print(f"replace_index({len(lines)} lines): {time.perf_counter() - t0:.2f} s")
        name = lines[len(lines) // 2].name
        rows = [
            ("search 'sql' (limit 50)", lambda: cache.search("sql")),
            ("search 'expert' (matches all)", lambda: cache.search("expert")),
            (f"search exact '{name}'", lambda: cache.search(name)),
            ("search 'sql graph'", lambda: cache.search("sql graph")),
            ("search '' (list all, limit 50)", lambda: cache.search("")),
            ("search 'sql' --capability tech:", lambda: cache.search("sql", capability="tech:")),
            ("search hostile 10 KB term", lambda: cache.search('"*NEAR(' * 1500)),
            (f"lines_for('{name}') ({versions} lines)", lambda: cache.lines_for(name)),
            ("names()", cache.names),
        ]
        for what, fn in rows:
            print(f"{what:<48} {ms(fn):8.2f} ms")
        changed = {ln.name: [ln] for ln in lines[: 100 * versions : versions]}
        t0 = time.perf_counter()
        cache.update_index("main", "b" * 40, changed)
        print(f"update_index(100 names): {(time.perf_counter() - t0) * 1000:.1f} ms")
        cache.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
