"""Dry run of 50 roots against a sparse HTTP index (cold and warm cache), and its peers.

The graph is the shared bench registry (``index_gen.build``: 10,000 experts x 10 signed
versions). Its Git index is exported with ``hxpm index export-sparse`` and served by a
static HTTP server on 127.0.0.1 that sends ETags (``tests/sparseserver.py``).

- hxpm, cold: the index is added (snapshot and config.json fetched) but no expert file is
  cached: the dry run fetches the roots' files and their requires closure.
- hxpm, warm: the same dry run again (every file cached; no request).
- peer: ``uv pip compile`` over the same graph as a PEP 503 simple index over HTTP, when
  ``uv`` is on PATH; otherwise ``pip install --dry-run --ignore-installed`` over it (cold:
  empty pip cache; warm: pip's HTTP cache filled by the previous run).

The lines name base ``Qwen/Qwen3-0.6B`` with a synthetic digest, so the dry run passes
``--base`` without registering a base (no digest to compare): resolution is what is timed.

Run: .venv/bin/python tests/benchmarks/bench_sparse.py [--repeat N]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

from bench_resolve import BASE
from common import BIN, env_with_home, median_seconds, print_table, run_ok
from index_gen import build

from tests.sparseserver import SparseHTTPServer


def hxpm(env: dict[str, str], *args: object) -> None:
    run_ok([BIN / "hxpm", *map(str, args)], env)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def peer_command(simple_url: str, req: Path, cache: Path, out: Path) -> tuple[str, list[str]]:
    uv = shutil.which("uv")
    if uv:
        return "uv pip compile", [
            uv,
            "pip",
            "compile",
            "--quiet",
            "--index-url",
            simple_url,
            "--cache-dir",
            str(cache),
            "-o",
            str(out),
            str(req),
        ]
    return "pip install --dry-run", [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--ignore-installed",
        "--disable-pip-version-check",
        "--index-url",
        simple_url,
        "--cache-dir",
        str(cache),
        "-r",
        str(req),
    ]


def main(repeat: int) -> None:
    registry = build()
    roots = (registry / "roots.txt").read_text().split()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        owner = env_with_home(root / "owner")
        hxpm(owner, "key", "generate", "--name", "owner")
        t0 = time.perf_counter()
        hxpm(
            owner,
            "index",
            "export-sparse",
            registry / "index.git",
            root / "site",
            "--key-name",
            "owner",
        )
        t_export = time.perf_counter() - t0
        snapshot_kb = (root / "site" / "snapshot.json").stat().st_size / 1024
        with SparseHTTPServer(root / "site") as server:
            pristine = root / "pristine"
            env = env_with_home(pristine)
            t0 = time.perf_counter()
            hxpm(env, "index", "add", "main", server.url)
            t_add = time.perf_counter() - t0
            home = root / "user"
            env = env_with_home(home)
            dry = [BIN / "hxpm", "install", *roots, "--dry-run", "--base", BASE]

            def fresh() -> None:
                shutil.rmtree(home, ignore_errors=True)
                shutil.copytree(pristine, home)
                server.take()

            t_cold = median_seconds(lambda: run_ok(dry, env), repeat, setup=fresh)
            fetched = len(server.take())
            t_warm = median_seconds(lambda: run_ok(dry, env), repeat)
            warm_requests = len(server.take())
            t_update = median_seconds(lambda: hxpm(env, "index", "update", "main"), repeat)
        http, base_url = serve(registry)
        try:
            pip_cache = root / "pip-cache"
            name, cmd = peer_command(
                f"{base_url}/simple/", registry / "requirements.in", pip_cache, root / "out.txt"
            )
            t_peer_cold = median_seconds(
                lambda: run_ok(cmd),
                max(1, repeat // 2),
                setup=lambda: shutil.rmtree(pip_cache, True),
            )
            t_peer_warm = median_seconds(lambda: run_ok(cmd), max(1, repeat // 2))
        finally:
            http.shutdown()
    print(
        f"export-sparse of 10,000 experts: {t_export:.1f} s; snapshot.json "
        f"{snapshot_kb:.0f} KiB; index add (snapshot + config): {t_add * 1000:.0f} ms"
    )
    print(
        f"cold dry run fetched {fetched} files; warm dry run made {warm_requests} requests; "
        f"index update with nothing new (one 304): {t_update * 1000:.0f} ms"
    )
    print_table(
        f"Dry run of {len(roots)} roots, sparse index over loopback HTTP (median of {repeat})",
        [
            ("hxpm --dry-run, cold cache", t_cold, f"{name}, cold", t_peer_cold, 1.0),
            ("hxpm --dry-run, warm cache", t_warm, f"{name}, warm", t_peer_warm, 1.0),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    main(parser.parse_args().repeat)
