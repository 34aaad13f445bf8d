"""The first pass (hxpm.resolve.first_pass) gives exactly resolvelib's answer or declines.

Compared with *plain* resolvelib (its own ``Resolver``, not hxpm's memoised one) on random
graphs rich in what makes resolvelib's choices order-dependent: pre-releases a range names,
yanked versions an exact pin selects, installed copies preferred over newer ones, locks,
``incompatible_with`` (negative requirements and the absent pick), requirements in cycles
and on their own name, roots with no match.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import resolvelib
from resolvelib import ResolutionImpossible, ResolutionTooDeep, Resolver

from hxpm.resolve import Candidate, InMemorySource
from hxpm.resolve.first_pass import first_pass
from hxpm.resolve.provider import ExpertProvider

from .builders import BASE, cand, chosen, req, run

NAMES = [f"expert-{c}" for c in "abcdefgh"]
VERSIONS = ["0.9.0", "1.0.0", "1.5.0", "2.0.0-rc.1", "2.0.0", "2.1.0-beta.2", "3.0.0"]
RANGES = [
    "*",
    "*",
    "*",
    "^1",
    "^2",
    ">=1.5.0",
    "<1.5.0",
    "1.5.0",
    "==2.0.0",
    ">=2.0.0-rc.1",
    ">=1.0.0,<2.1.0-beta.2",
    "~2.1.0-beta.1",
    ">=0.9.0,!=1.0.0",
]


def _graph(rnd: random.Random) -> tuple[list[str], list[Candidate], dict[str, object]]:
    names = NAMES[: rnd.randint(3, len(NAMES))]
    density = rnd.choice((0.08, 0.15, 0.25))  # sparse graphs resolve, dense ones conflict
    candidates = []
    for name in names:
        for version in rnd.sample(VERSIONS, rnd.randint(2, 5)):
            requires = [  # any direction: cycles and (rarely) its own name included
                f"{n}@{rnd.choice(RANGES)}"
                for n in names
                if rnd.random() < (density if n != name else 0.02)
            ]
            incompatible = [
                f"{n}@{rnd.choice(RANGES)}" for n in names if n != name and rnd.random() < 0.05
            ]
            candidates.append(
                cand(
                    name,
                    version,
                    requires=requires,
                    incompatible=incompatible,
                    yanked=rnd.random() < 0.1,
                    installed=rnd.random() < 0.1,
                )
            )
    roots = [
        f"{n}@{rnd.choice(RANGES) if rnd.random() < 0.4 else '*'}"
        for n in rnd.sample(names, rnd.randint(1, 3))
    ]
    options: dict[str, object] = {
        "allow_prerelease": rnd.random() < 0.3,
        "prefer_installed": rnd.random() < 0.7,
        "locked": {c.name: c.version for c in [rnd.choice(candidates)]}
        if rnd.random() < 0.2
        else None,
    }
    return roots, candidates, options


def _provider(candidates: list[Candidate], options: Mapping[str, object]) -> ExpertProvider:
    return ExpertProvider(InMemorySource(candidates), base_model=BASE, base_sha256=None, **options)  # type: ignore[arg-type]


def _shape(
    mapping: Mapping[str, object], information: Mapping[str, Sequence[tuple[object, object]]]
) -> object:
    """Pins by label and, per name, who asked for what (in the order it was asked)."""
    return (
        {name: repr(pick) for name, pick in mapping.items()},
        {name: [(repr(r), repr(p)) for r, p in infos] for name, infos in information.items()},
    )


def _plain_resolvelib(
    roots: list[str], candidates: list[Candidate], options: dict[str, object]
) -> object:
    provider = _provider(candidates, options)
    needs = [provider.need(req(r)) for r in roots]
    try:
        result = Resolver(provider, resolvelib.BaseReporter()).resolve(needs, max_rounds=10_000)
    except (ResolutionImpossible, ResolutionTooDeep):
        return "no answer"
    except RecursionError:  # resolvelib's _build_result, after re-pins inside a cycle
        return "resolvelib crashed"
    information = {
        name: [(i.requirement, i.parent) for i in criterion.information]
        for name, criterion in result.criteria.items()
    }
    return _shape(result.mapping, information)


def _first_pass(
    roots: list[str], candidates: list[Candidate], options: dict[str, object]
) -> object:
    provider = _provider(candidates, options)
    solution = first_pass(provider, [provider.need(req(r)) for r in roots], 10_000)
    return None if solution is None else _shape(solution.mapping, solution.information)


SEEDS = range(600)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_first_pass_declines_or_gives_resolvelibs_answer(seed: int) -> None:
    roots, candidates, options = _graph(random.Random(seed))
    fast = _first_pass(roots, candidates, options)
    if fast is not None:
        assert fast == _plain_resolvelib(roots, candidates, options)


def test_the_random_graphs_exercise_both_outcomes() -> None:
    """Not vacuous: the pass answers most graphs and declines many (conflicts, re-pins)."""
    answered = declined_solvable = 0
    for seed in SEEDS:
        roots, candidates, options = _graph(random.Random(seed))
        if _first_pass(roots, candidates, options) is not None:
            answered += 1
        elif isinstance(_plain_resolvelib(roots, candidates, options), tuple):
            declined_solvable += 1  # resolvelib needed backtracking or a re-pin
    assert answered > len(SEEDS) // 3
    assert declined_solvable > len(SEEDS) // 20


def test_a_later_requirement_rejecting_a_pin_makes_it_decline() -> None:
    # b is pinned to 2.0.0 before a's requirement b@^1 arrives: resolvelib must backtrack.
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b@^1"]),
        cand("expert-a", "0.5.0"),
        cand("expert-b", "2.0.0"),
        cand("expert-b", "1.0.0"),
        cand("expert-c", "1.0.0", requires=["expert-a"]),
        cand("expert-c", "0.9.0"),
        cand("expert-c", "0.8.0"),
    ]
    options: dict[str, object] = {
        "allow_prerelease": False,
        "prefer_installed": True,
        "locked": None,
    }
    assert _first_pass(["expert-b", "expert-c"], candidates, options) is None
    # ...and resolve() still answers, through resolvelib
    answer = chosen(run(["expert-b", "expert-c"], candidates))
    assert answer == {"expert-a": "1.0.0", "expert-b": "1.0.0", "expert-c": "1.0.0"}


def test_an_unmatched_root_is_left_to_resolvelibs_conflict_report() -> None:
    options: dict[str, object] = {
        "allow_prerelease": False,
        "prefer_installed": True,
        "locked": None,
    }
    assert _first_pass(["expert-a@^9"], [cand("expert-a", "1.0.0")], options) is None


def test_a_conflict_free_closure_is_answered_by_the_first_pass(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b@^1", "expert-c"]),
        cand("expert-b", "1.2.0", requires=["expert-c@>=1"]),
        cand("expert-b", "2.0.0"),
        cand("expert-c", "1.0.0"),
        cand("expert-c", "0.1.0"),
    ]
    monkeypatch.setenv("HXPM_RESOLVER_DEBUG", "1")
    with caplog.at_level(logging.DEBUG, logger="hxpm.resolve"):
        resolution = run(["expert-a"], candidates)
    assert chosen(resolution) == {"expert-a": "1.0.0", "expert-b": "1.2.0", "expert-c": "1.0.0"}
    assert resolution.required_by["expert-c"] == ("expert-a@1.0.0", "expert-b@1.2.0")
    messages = [r.getMessage() for r in caplog.records]
    assert any("(first pass)" in m for m in messages)
    assert not any("declined" in m for m in messages)


def test_a_newest_match_whose_requirements_conflict_is_skipped_as_resolvelib_does() -> None:
    # expert-x 2.0.0 is incompatible with the b already required: resolvelib tries x 1.0.0
    # next without backtracking, and so does the first pass.
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b@^1", "expert-x"]),
        cand("expert-b", "1.0.0"),
        cand("expert-x", "2.0.0", incompatible=["expert-b@^1"]),
        cand("expert-x", "1.0.0"),
    ]
    options: dict[str, object] = {
        "allow_prerelease": False,
        "prefer_installed": True,
        "locked": None,
    }
    fast = _first_pass(["expert-a"], candidates, options)
    assert fast is not None
    assert fast == _plain_resolvelib(["expert-a"], candidates, options)
    assert chosen(run(["expert-a"], candidates))["expert-x"] == "1.0.0"


def test_a_resolution_without_backtracking_never_imports_resolvelib() -> None:
    code = (
        "import sys\n"
        "from tests.unit.resolve.builders import cand, chosen, run\n"
        "r = run(['expert-a'], [cand('expert-a', '1.0.0', requires=['expert-b']),"
        " cand('expert-b', '1.0.0')])\n"
        "assert chosen(r) == {'expert-a': '1.0.0', 'expert-b': '1.0.0'}, chosen(r)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('resolvelib', 'semver'))))\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
