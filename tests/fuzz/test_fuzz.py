"""The in-suite fuzz run (issue 10): every reader of untrusted bytes, a short budget.

Each target gets hypothesis-driven mutations of real seeds (tests/fuzz/seeds.py) plus raw
bytes; any exception outside hxpm's own error family fails. Every input saved under
tests/fuzz/regressions/<target>/ (found by `make fuzz`, or written from an issue) is
replayed. ``HXPM_FUZZ_EXAMPLES`` scales the number of examples per target (default 400;
the whole module stays well under 60 s).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.seeds import REGRESSIONS, mutate, seeds
from tests.fuzz.targets import TARGETS, run_one

EXAMPLES = int(os.environ.get("HXPM_FUZZ_EXAMPLES", "400"))


def inputs(target: str) -> st.SearchStrategy[bytes]:
    mutated = st.builds(
        mutate, st.sampled_from(seeds(target)), st.lists(st.integers(0, 1 << 16), max_size=48)
    )
    return st.one_of(mutated, mutated, st.binary(max_size=4096))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_reader_raises_only_hxpm_errors(target: str) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(inputs(target))
    def check(data: bytes) -> None:
        run_one(target, data)

    check()


def _regressions() -> list[tuple[str, Path]]:
    if not REGRESSIONS.is_dir():
        return []
    return [
        (d.name, f)
        for d in sorted(REGRESSIONS.iterdir())
        if d.name in TARGETS
        for f in sorted(d.iterdir())
        if f.is_file()
    ]


@pytest.mark.parametrize(
    ("target", "path"), _regressions(), ids=[f"{t}/{p.name}" for t, p in _regressions()]
)
def test_saved_input_stays_fixed(target: str, path: Path) -> None:
    run_one(target, path.read_bytes())


def test_every_target_has_seeds_and_accepts_them() -> None:
    for target in TARGETS:
        assert seeds(target), target
    for data in seeds("manifest")[:6]:  # real manifests of the older tool: they load
        run_one("manifest", data)
