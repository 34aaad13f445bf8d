"""Random small graphs: every answer is valid, and a conflict means no answer exists.

Checks the "absent" encoding of ``incompatible_with`` end to end: the resolver must not give
up where a brute-force search over all assignments finds a valid set.
"""

from __future__ import annotations

import itertools
import random

import pytest

from hxpm.core.versions import Requirement
from hxpm.errors import ResolutionError
from hxpm.resolve import Candidate

from .builders import cand, req, run
from .test_conflicts import assert_report_shape

NAMES = ["expert-a", "expert-b", "expert-c", "expert-d", "expert-e"]
VERSIONS = ["1.0.0", "1.5.0", "2.0.0"]
RANGES = ["*", "^1", "^2", ">=1.5.0", "<1.5.0", "1.5.0", ">=1.0.0,<2.0.0"]


def random_graph(rnd: random.Random) -> tuple[list[str], list[Candidate]]:
    candidates = []
    for i, name in enumerate(NAMES):
        for version in rnd.sample(VERSIONS, rnd.randint(1, 3)):
            lower = NAMES[:i]  # requirements point down: no cycles
            requires = [f"{n}@{rnd.choice(RANGES)}" for n in lower if rnd.random() < 0.3]
            incompatible = [
                f"{n}@{rnd.choice(RANGES)}" for n in NAMES if n != name and rnd.random() < 0.15
            ]
            candidates.append(cand(name, version, requires=requires, incompatible=incompatible))
    roots = [f"{n}@{rnd.choice(RANGES)}" for n in rnd.sample(NAMES, rnd.randint(1, 3))]
    return roots, candidates


def valid(chosen: dict[str, Candidate], roots: list[Requirement]) -> bool:
    def holds(r: Requirement) -> bool:
        return r.name in chosen and r.allows(chosen[r.name].version)

    if not all(holds(r) for r in roots):
        return False
    for candidate in chosen.values():
        if not all(holds(r) for r in candidate.requires):
            return False
        if any(holds(r) for r in candidate.incompatible_with):
            return False
    return True


def brute_force_exists(roots: list[Requirement], candidates: list[Candidate]) -> bool:
    options = [[None, *[c for c in candidates if c.name == n]] for n in NAMES]
    for combo in itertools.product(*options):
        chosen = {c.name: c for c in combo if c is not None}
        if valid(chosen, roots):
            return True
    return False


@pytest.mark.parametrize("seed", range(400))
def test_random_graph(seed: int) -> None:
    rnd = random.Random(seed)
    roots, candidates = random_graph(rnd)
    root_reqs = [req(r) for r in roots]
    try:
        resolution = run(roots, candidates)
    except ResolutionError as err:
        assert not brute_force_exists(root_reqs, candidates), f"missed a solution: {roots}"
        assert_report_shape(err.details["report"])  # every failure explains itself
        assert err.details["report"]["conflicts"]
        return
    chosen = {c.name: c for c in resolution.experts}
    assert valid(chosen, root_reqs)
