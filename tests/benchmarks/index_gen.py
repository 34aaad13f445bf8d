"""Build the synthetic registry the whole-process benchmarks run on (seeded, cached).

One graph (``bench_resolve.generate``: names ``expert-00000`` ..., 10 versions each, with
requirements, incompatibilities and "dirty" newest versions), written three ways:

* ``index.git``: a bare Git index (``config.json`` + one file per expert under
  ``experts/ex/pe/``), every line a real version line signed with a fixed bench key (real
  Ed25519 signatures over real statements). ``main`` is the first state; ``next`` adds one
  version to 100 experts (the incremental-update benchmark);
* ``simple/`` + ``files/``: the part of the graph reachable from the 50 roots as a PEP 503
  simple index whose links carry PEP 658 ``data-dist-info-metadata`` / ``data-core-metadata``,
  with ``<wheel>.metadata`` files beside minimal wheels (what uv and pip read);
* ``roots.txt`` (hxpm requirement strings) and ``requirements.in`` (the same as PEP 508).

The result is kept under ``$HXPM_BENCH_CACHE`` (default ``~/.cache/hxpm-bench``), one folder
per (names, versions), and reused while the generator's ``FORMAT`` is unchanged.

Run alone: .venv/bin/python tests/benchmarks/index_gen.py [NAMES]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)
from bench_resolve import (
    BASE,
    Release,
    generate,
    pep508,
    pick_roots,
    reachable,
    write_wheel,
)

from hxpm.index.config import IndexConfig
from hxpm.index.model import shard_path
from hxpm.package.signing import SecretKey, Statement, sign_statement

FORMAT = 3  # bump when the output changes: cached copies are rebuilt
KEY = SecretKey(hashlib.sha256(b"hxpm benchmark key").digest())
CREATED = "2026-01-01T00:00:00Z"
SOURCE_COMMIT = "c" * 40
CHANGED = 100  # experts that get a new version in the `next` commit
MAX_CHAIN = 64  # closures in this graph reach ~20, above the default of 10


def cache_root() -> Path:
    return Path(os.environ.get("HXPM_BENCH_CACHE") or Path.home() / ".cache" / "hxpm-bench")


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def line_text(
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    incompatible: tuple[str, ...] = (),
    key_id: str | None = None,
) -> str:
    """One signed version line, written as hxpm writes them (compact JSON, canonical order)."""
    sha, tree = h(f"archive {name} {version}"), h(f"tree {name} {version}")
    statement = Statement(
        name=name,
        version=version,
        base_model=BASE,
        base_sha256=h(BASE),
        tree_sha256=tree,
        sha256=sha,
        key_id=key_id or KEY.public_key.key_id,
        created=CREATED,
    )
    word = ("sql", "json", "graph", "code", "rust", "table")[int(sha[:2], 16) % 6]
    doc = {
        "v": 1,
        "name": name,
        "version": version,
        "description": f"{name} turns {word} questions into answers",
        "source": {
            "git": f"https://git.example.org/experts/{name}",
            "tag": f"v{version}",
            "commit": SOURCE_COMMIT,
        },
        "requires": list(requires),
        "incompatible_with": list(incompatible),
        "load_order": 5,
        "max_chain": MAX_CHAIN,
        "capabilities": [f"tech:{word}", "lang:en"],
        "routing": {
            "keywords": [word, name.rsplit("-", 1)[-1]],
            "exclude_keywords": [],
            "priority": 0.5,
        },
        "variants": [
            {
                "base_model": BASE,
                "base_sha256": h(BASE),
                "path": f"dist/{name}-{version}.expert",
                "url": None,
                "size": 4096,
                "sha256": sha,
                "tree_sha256": tree,
                "signature": sign_statement(statement, KEY),
            }
        ],
        "yanked": False,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def expert_file(releases: list[Release]) -> bytes:
    key_id = KEY.public_key.key_id
    return "".join(
        line_text(r.name, r.version, r.requires, r.incompatible, key_id) + "\n" for r in releases
    ).encode()


def expert_files(graph: dict[str, list[Release]]) -> Iterator[tuple[str, bytes]]:
    for name, releases in graph.items():
        yield shard_path(name), expert_file(releases)


def _data(body: bytes) -> bytes:
    return b"data %d\n" % len(body) + body + b"\n"


def write_git_index(repo: Path, graph: dict[str, list[Release]]) -> None:
    """A bare repo through `git fast-import`: commit `main`, then `next` (100 changed)."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    out = proc.stdin
    config = IndexConfig.new("bench", "hxpm benchmark index").to_bytes()
    stamp = b"bench <bench@example.invalid> 1767225600 +0000\n"
    out.write(b"commit refs/heads/main\ncommitter " + stamp + _data(b"Create the bench index"))
    out.write(b"M 100644 inline config.json\n" + _data(config))
    for path, body in expert_files(graph):
        out.write(f"M 100644 inline {path}\n".encode() + _data(body))
    out.write(
        b"\ncommit refs/heads/next\ncommitter "
        + stamp
        + _data(b"100 new versions")
        + b"from refs/heads/main\n"
    )
    names = list(graph)
    for name in names[:: max(1, len(names) // CHANGED)][:CHANGED]:
        body = expert_file(graph[name]) + (line_text(name, "100.0.0") + "\n").encode()
        out.write(f"M 100644 inline {shard_path(name)}\n".encode() + _data(body))
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def write_simple_index(folder: Path, graph: dict[str, list[Release]], names: list[str]) -> None:
    """PEP 503 pages whose links announce PEP 658 metadata files next to the wheels."""
    files = folder / "files"
    files.mkdir(parents=True)
    for name in names:
        links = []
        for release in graph[name]:
            write_wheel(files, release)
            wheel = f"{name.replace('-', '_')}-{release.version}-py3-none-any.whl"
            metadata = "".join(
                [f"Metadata-Version: 2.1\nName: {name}\nVersion: {release.version}\n"]
                + [f"Requires-Dist: {pep508(r)}\n" for r in release.requires]
            ).encode()
            (files / f"{wheel}.metadata").write_bytes(metadata)
            meta_sha = hashlib.sha256(metadata).hexdigest()
            whl_sha = hashlib.sha256((files / wheel).read_bytes()).hexdigest()
            links.append(
                f'<a href="../../files/{wheel}#sha256={whl_sha}" '
                f'data-dist-info-metadata="sha256={meta_sha}" '
                f'data-core-metadata="sha256={meta_sha}">{wheel}</a><br/>'
            )
        page = folder / "simple" / name
        page.mkdir(parents=True)
        (page / "index.html").write_text(
            "<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        )
    (folder / "simple" / "index.html").write_text(
        "<!DOCTYPE html>\n<html><body>\n"
        + "".join(f'<a href="{n}/">{n}</a>\n' for n in names)
        + "</body></html>\n"
    )


def build(names: int = 10_000, *, quiet: bool = False) -> Path:
    """The bench registry for ``names`` experts (built once, then reused)."""
    folder = cache_root() / f"registry-{names}x10-v{FORMAT}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    graph = generate(names=names)
    roots = pick_roots(graph)
    write_git_index(folder / "index.git", graph)
    write_simple_index(folder, graph, reachable(graph, roots))
    (folder / "roots.txt").write_text("\n".join(roots) + "\n")
    (folder / "requirements.in").write_text("\n".join(pep508(r) for r in roots) + "\n")
    (folder / "done").write_text(datetime.now(UTC).isoformat() + "\n")
    if not quiet:
        print(
            f"built the bench registry ({names} experts x 10 signed versions) in "
            f"{time.perf_counter() - t0:.0f} s: {folder}"
        )
    return folder


if __name__ == "__main__":
    print(build(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
