"""Resolve 50 roots against a synthetic 10,000-expert index; pip resolves the same graph.

Run: .venv/bin/python tests/benchmarks/bench_resolve.py [--pip-repeat N] [--keep DIR]

Targets (docs/architecture.md §12): hxpm ≤ 1 s, and at least 5 times faster than
``pip install --dry-run --no-index --find-links DIR`` over the same graph as local wheels.

The graph is seeded and deterministic:

* 10,000 names ``expert-00000`` … ``expert-09999``, 10 SemVer versions each;
* names from 1000 up require 0-3 names with *lower* numbers (acyclic; a third of the
  requirements go to 100 popular "hub" names), with ranges written as ``*``, ``>=``, ``^``,
  ``~`` and ``>=a,<b``; later versions sometimes add a requirement;
* about 2 % of names declare ``incompatible_with`` on older versions of a lower name, and
  about 5 % have a "dirty" newest version that accepts only the oldest version of a hub
  (an old range, or an incompatibility with every later version), so the resolver must
  reject some candidates and step back;
* every range in a non-dirty version contains both the newest and second-newest version of
  its target, so choosing "newest if clean, else second-newest" everywhere is a solution:
  one always exists.

pip sees the names reachable from the roots (through any version) as minimal wheels with
``Requires-Dist`` lines, twice: through ``--no-index --find-links`` (the design's reference,
which rescans the folder per project) and through a file:// PEP 503 index over the same
wheels (closer to a pure resolver comparison). ``incompatible_with`` has no pip equivalent
(pip cannot say "not together with X if X is present" without also requiring X), so pip's
graph omits those constraints; that makes pip's problem slightly easier, not harder.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from common import print_table

from hxpm.core.versions import Version, parse_requirement, parse_spec
from hxpm.resolve import Candidate, InMemorySource, resolve

BASE = "Qwen/Qwen3-0.6B"
NAMES = 10_000
VERSIONS = 10
ROOTS = 50
SEED = 20_260_509
LEAVES = 1_000  # names below this require nothing
HUBS = 100  # popular names: a third of all requirements and every dirty version point here


@dataclass(frozen=True, slots=True)
class Release:
    name: str
    version: str
    requires: tuple[str, ...]  # hxpm requirement strings
    incompatible: tuple[str, ...]


def name_of(i: int) -> str:
    return f"expert-{i:05d}"


def version_line(rnd: random.Random) -> list[tuple[int, int, int]]:
    major, minor, patch = rnd.choice([0, 1, 1, 2]), rnd.randrange(3), 0
    out = [(major, minor, patch)]
    while len(out) < VERSIONS:
        r = rnd.random()
        if r < 0.2:
            major, minor, patch = major + 1, 0, 0
        elif r < 0.7:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        out.append((major, minor, patch))
    return out


def text(v: tuple[int, int, int]) -> str:
    return f"{v[0]}.{v[1]}.{v[2]}"


def clean_range(rnd: random.Random, line: list[tuple[int, int, int]]) -> str:
    """A range holding the newest and the second-newest version of ``line``."""
    second, newest = line[-2], line[-1]
    low = line[rnd.randrange(VERSIONS - 1)]
    r = rnd.random()
    if r < 0.1:
        return "*"
    if r < 0.4 or low[0] != newest[0]:
        return f">={text(low)}"
    if r < 0.6:
        return f"^{text(low)}" if low[0] > 0 or newest[:2] == low[:2] else f">={text(low)}"
    if r < 0.7 and second[:2] == newest[:2]:
        return f"~{second[0]}.{second[1]}"
    return f">={text(low)},<{newest[0] + 1}.0.0"


def target(rnd: random.Random, i: int) -> int:
    return rnd.randrange(HUBS) if rnd.random() < 0.3 else rnd.randrange(i)


def generate(seed: int = SEED, names: int = NAMES) -> dict[str, list[Release]]:
    rnd = random.Random(seed)
    lines = [version_line(rnd) for _ in range(names)]
    graph: dict[str, list[Release]] = {}
    for i in range(names):
        targets = (
            []
            if i < LEAVES
            else sorted(
                {
                    target(rnd, i)
                    for _ in range(rnd.choices([0, 1, 2, 3], [0.3, 0.35, 0.2, 0.15])[0])
                }
            )
        )
        extra = rnd.randrange(i) if i >= LEAVES and rnd.random() < 0.2 else None
        incompatible = rnd.randrange(i) if i >= LEAVES and rnd.random() < 0.02 else None
        dirty = i >= LEAVES and rnd.random() < 0.05
        releases = []
        for k, v in enumerate(lines[i]):
            reqs = [f"{name_of(t)}@{clean_range(rnd, lines[t])}" for t in targets]
            if extra is not None and k >= 5 and extra not in targets:
                reqs.append(f"{name_of(extra)}@{clean_range(rnd, lines[extra])}")
            incs = []
            if incompatible is not None:
                old = lines[incompatible][rnd.randrange(1, VERSIONS - 1)]
                incs.append(f"{name_of(incompatible)}@<{text(old)}")
            if dirty and k == VERSIONS - 1:
                victim = rnd.randrange(HUBS)
                if rnd.random() < 0.5 and victim not in targets:
                    incs.append(f"{name_of(victim)}@>={text(lines[victim][1])}")
                else:
                    reqs.append(f"{name_of(victim)}@<{text(lines[victim][1])}")
            releases.append(Release(name_of(i), text(v), tuple(reqs), tuple(incs)))
        graph[name_of(i)] = releases
    return graph


def pick_roots(graph: dict[str, list[Release]], seed: int = SEED) -> list[str]:
    rnd = random.Random(seed + 1)
    roots = []
    names = len(graph)
    for i in sorted(rnd.sample(range(names // 2, names), ROOTS)):
        line = [tuple(int(x) for x in r.version.split(".")) for r in graph[name_of(i)]]
        roots.append(name_of(i) if rnd.random() < 0.5 else f"{name_of(i)}@{clean_range(rnd, line)}")  # type: ignore[arg-type]
    return roots


def to_candidates(graph: dict[str, list[Release]]) -> list[Candidate]:
    # max_chain is raised: closures here reach ~20, above the default of 10.
    return [
        Candidate(
            r.name,
            Version.parse(r.version),
            tuple(parse_requirement(x) for x in r.requires),
            tuple(parse_requirement(x) for x in r.incompatible),
            max_chain=1000,
            base_models=((BASE, ""),),
            origin="bench",
        )
        for releases in graph.values()
        for r in releases
    ]


def reachable(graph: dict[str, list[Release]], roots: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    todo = [parse_requirement(r).name for r in roots]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(parse_requirement(x).name for r in graph[name] for x in r.requires)
    return sorted(seen)


def pep508(requirement: str) -> str:
    """``expert-1@^1.2.0`` -> ``expert-1>=1.2.0,<2.0.0`` (same comparators, PEP 440 text)."""
    name, _, spec = requirement.partition("@")
    comparators = parse_spec(spec or "*").comparators
    return name + ",".join(f"{c.op}{c.version}" for c in comparators)


def write_wheel(folder: Path, release: Release) -> None:
    dist = release.name.replace("-", "_")
    info = f"{dist}-{release.version}.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {release.name}\nVersion: {release.version}\n"]
        + [f"Requires-Dist: {pep508(r)}\n" for r in release.requires]
    )
    files = {
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hxpm-bench\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = (
        "".join(
            f"{path},sha256={_b64sha(body)},{len(body.encode())}\n" for path, body in files.items()
        )
        + f"{info}/RECORD,,\n"
    )
    with zipfile.ZipFile(folder / f"{dist}-{release.version}-py3-none-any.whl", "w") as whl:
        for path, body in [*files.items(), (f"{info}/RECORD", record)]:
            whl.writestr(path, body)


def _b64sha(body: str) -> str:
    digest = hashlib.sha256(body.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def time_hxpm(
    candidates: list[Candidate], roots: list[str], repeat: int
) -> tuple[float, dict[str, str]]:
    source = InMemorySource(candidates)
    requirements = [parse_requirement(r) for r in roots]
    samples, chosen = [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        resolution = resolve(requirements, source, base_model=BASE)
        samples.append(time.perf_counter() - t0)
        chosen = {c.name: str(c.version) for c in resolution.experts}
    return statistics.median(samples), chosen


def write_simple_index(folder: Path, names: Iterable[str]) -> Path:
    """A PEP 503 file:// index over the same wheels (pip's per-project lookup, no scan)."""
    simple = folder.parent / "simple"
    wheels = sorted(p.name for p in folder.glob("*.whl"))
    for name in names:
        prefix = name.replace("-", "_") + "-"
        links = "".join(
            f'<a href="{(folder / w).as_uri()}">{w}</a>\n' for w in wheels if w.startswith(prefix)
        )
        (simple / name).mkdir(parents=True, exist_ok=True)
        (simple / name / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return simple


def time_pip(
    where: list[str], roots: list[str], repeat: int, report: Path
) -> tuple[float, dict[str, str]]:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        *where,
        "--ignore-installed",
        "--quiet",
        "--report",
        str(report),
        *[pep508(r) for r in roots],
    ]
    # Only this run's options count: no user or site pip configuration, no PIP_* variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        samples.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"pip failed:\n{done.stderr[-3000:]}")
    installs = json.loads(report.read_text())["install"]
    return statistics.median(samples), {
        i["metadata"]["name"]: i["metadata"]["version"] for i in installs
    }


def main(repeat: int = 5, pip_repeat: int = 1, keep: Path | None = None) -> None:
    t0 = time.perf_counter()
    graph = generate()
    roots = pick_roots(graph)
    candidates = to_candidates(graph)
    t_gen = time.perf_counter() - t0
    t_hxpm, ours = time_hxpm(candidates, roots, repeat)
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or Path(tmp)
        folder = work / "wheels"
        folder.mkdir(parents=True, exist_ok=True)
        names = reachable(graph, roots)
        for name in names:
            for release in graph[name]:
                write_wheel(folder, release)
        simple = write_simple_index(folder, names)
        t_pip, theirs = time_pip(
            ["--no-index", "--find-links", str(folder)],
            roots,
            pip_repeat,
            work / "pip-find-links.json",
        )
        t_idx, _ = time_pip(
            ["--index-url", simple.as_uri()], roots, pip_repeat, work / "pip-simple.json"
        )
    print(
        f"\nindex: {len(candidates)} candidates over {NAMES} names (generated in "
        f"{t_gen:.1f}s); {len(names)} names reachable from {ROOTS} roots "
        f"({len(names) * VERSIONS} wheels)"
    )
    same = sum(1 for name, version in ours.items() if theirs.get(name) == version)
    print(
        f"chosen: hxpm {len(ours)} experts, pip {len(theirs)} distributions, {same} "
        "identical name+version (pip's graph has no incompatible_with)"
    )
    print_table(
        f"Resolve {ROOTS} roots, 10,000-expert index (hxpm median of {repeat}, "
        f"pip median of {pip_repeat})",
        [
            ("resolve vs 1 s budget", t_hxpm, "budget", 1.0, 1.0),
            ("resolve vs pip (target)", t_hxpm, "pip --no-index --find-links", t_pip, 0.2),
            ("resolve vs pip, no directory scans", t_hxpm, "pip file:// simple index", t_idx, 0.2),
        ],
    )
    print(
        f"pip --find-links / hxpm = {t_pip / t_hxpm:.0f}x; pip simple index / hxpm = "
        f"{t_idx / t_hxpm:.0f}x (target >= 5x). --find-links rescans the whole folder for "
        "every project, so the simple-index row is the fairer resolver-to-resolver figure."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pip-repeat", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="write the wheels here")
    args = parser.parse_args()
    main(args.repeat, args.pip_repeat, args.keep)
