"""The memoised pin check (hxpm.resolve._pinned) changes speed, never answers; and the
closure is loaded a level at a time from a source that can batch (issue 9)."""

from __future__ import annotations

import inspect
import random
from collections.abc import Collection, Sequence

import pytest
import resolvelib
from resolvelib import ResolutionImpossible, Resolver
from resolvelib.resolvers import resolution as resolvelib_resolution

from hxpm.resolve import Candidate, InMemorySource
from hxpm.resolve._pinned import MemoResolver
from hxpm.resolve.provider import ExpertProvider

from .builders import BASE, cand, chosen, req, run
from .test_random_graphs import random_graph


def _mapping(resolver_cls: type, roots: list[str], candidates: list[Candidate]) -> object:
    provider = ExpertProvider(
        InMemorySource(candidates),
        base_model=BASE,
        base_sha256=None,
        allow_prerelease=False,
        prefer_installed=True,
        locked=None,
    )
    needs = [provider.need(req(r)) for r in roots]
    try:
        result = resolver_cls(provider, resolvelib.BaseReporter()).resolve(needs, max_rounds=10_000)
    except ResolutionImpossible as exc:
        return ("impossible", sorted(repr(c.requirement) for c in exc.causes))
    return {
        name: pick.candidate.label if pick.candidate else None
        for name, pick in result.mapping.items()
    }


@pytest.mark.parametrize("seed", range(300))
def test_memoised_and_plain_resolvelib_agree(seed: int) -> None:
    roots, candidates = random_graph(random.Random(seed))
    assert _mapping(MemoResolver, roots, candidates) == _mapping(Resolver, roots, candidates)


def test_the_private_hooks_it_overrides_still_exist() -> None:
    """If this fails, resolvelib moved ``Resolution._is_current_pin_satisfying`` or
    ``_build_result``: hxpm/resolve/_pinned.py must follow it."""
    hook = resolvelib_resolution.Resolution._is_current_pin_satisfying
    assert list(inspect.signature(hook).parameters) == ["self", "name", "criterion"]
    assert list(inspect.signature(resolvelib_resolution._build_result).parameters) == ["state"]
    resolve = resolvelib_resolution.Resolver.resolve
    assert "Resolution(self.provider, self.reporter)" in inspect.getsource(resolve)


class BatchingSource(InMemorySource):
    """Records the batches the resolver asks for, and single-name calls."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        super().__init__(candidates)
        self.batches: list[set[str]] = []

    def prefetch(self, names: Collection[str]) -> None:
        self.batches.append(set(names))


def test_a_closure_is_loaded_a_level_at_a_time() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b", "expert-c", "expert-d"]),
        cand("expert-b", "1.0.0", requires=["expert-e", "expert-f"]),
        cand("expert-c", "1.0.0", incompatible=["expert-g@>=2"]),
        cand("expert-d", "1.0.0"),
        cand("expert-e", "1.0.0"),
        cand("expert-f", "1.0.0"),
        cand("expert-x", "1.0.0"),
    ]
    source = BatchingSource(candidates)
    from hxpm.resolve import resolve

    resolution = resolve([req("expert-a"), req("expert-x")], source, base_model=BASE)
    assert set(chosen(resolution)) == {f"expert-{n}" for n in "abcdefx"}
    assert {"expert-a", "expert-x"} in source.batches  # the roots together
    assert {"expert-b", "expert-c", "expert-d"} in source.batches  # a's requirements together
    assert {"expert-e", "expert-f"} in source.batches
    # the same answer as a source that cannot batch
    assert chosen(run(["expert-a", "expert-x"], candidates)) == chosen(resolution)
