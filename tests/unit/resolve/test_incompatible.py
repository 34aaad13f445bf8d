"""``incompatible_with`` is a real constraint inside resolvelib, with backtracking (§7)."""

from __future__ import annotations

import pytest

from hxpm.errors import ResolutionError

from .builders import cand, chosen, run


def test_backtracks_to_the_version_without_the_incompatibility() -> None:
    candidates = [
        cand("expert-a", "2.0.0", incompatible=["expert-b@>=2"]),
        cand("expert-a", "1.0.0"),
        cand("expert-b", "1.0.0"),
        cand("expert-b", "2.0.0"),
        cand("expert-b", "2.4.0"),
    ]
    resolution = run(["expert-a", "expert-b@>=2"], candidates)
    assert chosen(resolution) == {"expert-a": "1.0.0", "expert-b": "2.4.0"}


@pytest.mark.parametrize("roots", [["expert-a", "expert-b@>=2"], ["expert-b@>=2", "expert-a"]])
def test_backtracking_does_not_depend_on_root_order(roots: list[str]) -> None:
    candidates = [
        cand("expert-a", "2.0.0", incompatible=["expert-b@>=2"]),
        cand("expert-a", "1.0.0"),
        cand("expert-b", "1.0.0"),
        cand("expert-b", "2.0.0"),
    ]
    assert chosen(run(roots, candidates)) == {"expert-a": "1.0.0", "expert-b": "2.0.0"}


def test_incompatibility_picks_an_older_version_of_the_other_side() -> None:
    candidates = [
        cand("expert-a", "1.0.0", incompatible=["expert-b@>=2"]),
        cand("expert-b", "1.5.0"),
        cand("expert-b", "2.0.0"),
    ]
    assert chosen(run(["expert-a", "expert-b"], candidates)) == {
        "expert-a": "1.0.0",
        "expert-b": "1.5.0",
    }


def test_incompatibility_reached_through_a_dependency() -> None:
    # expert-app needs expert-sql; the newest expert-sql refuses expert-json 2.x, which the
    # user asked for: the resolver must step back to expert-sql 1.x.
    candidates = [
        cand("expert-app", "1.0.0", requires=["expert-sql@>=1"]),
        cand("expert-sql", "2.0.0", incompatible=["expert-json@^2"]),
        cand("expert-sql", "1.3.0"),
        cand("expert-json", "2.1.0"),
        cand("expert-json", "1.0.0"),
    ]
    resolution = run(["expert-app", "expert-json@^2"], candidates)
    assert chosen(resolution) == {
        "expert-app": "1.0.0",
        "expert-sql": "1.3.0",
        "expert-json": "2.1.0",
    }


def test_incompatible_name_that_nobody_requires_stays_out() -> None:
    candidates = [
        cand("expert-a", "1.0.0", incompatible=["expert-b", "expert-ghost"]),
        cand("expert-b", "1.0.0"),
    ]
    resolution = run(["expert-a"], candidates)
    assert chosen(resolution) == {"expert-a": "1.0.0"}
    assert set(resolution.required_by) == {"expert-a"}


def test_incompatibility_outside_the_chosen_version_is_harmless() -> None:
    candidates = [
        cand("expert-a", "1.0.0", incompatible=["expert-b@<1"]),
        cand("expert-b", "1.0.0"),
        cand("expert-b", "0.9.0"),
    ]
    assert chosen(run(["expert-a", "expert-b"], candidates)) == {
        "expert-a": "1.0.0",
        "expert-b": "1.0.0",
    }


def test_incompatibility_declared_by_the_later_expert() -> None:
    # The negative requirement arrives after expert-b is already pinned.
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-c"]),
        cand("expert-c", "1.0.0", incompatible=["expert-b@>=2"]),
        cand("expert-b", "2.0.0"),
        cand("expert-b", "1.0.0"),
    ]
    assert chosen(run(["expert-b", "expert-a"], candidates)) == {
        "expert-a": "1.0.0",
        "expert-b": "1.0.0",
        "expert-c": "1.0.0",
    }


def test_incompatible_pair_without_alternative_fails() -> None:
    candidates = [cand("expert-a", "1.0.0", incompatible=["expert-b"]), cand("expert-b", "1.0.0")]
    with pytest.raises(ResolutionError) as err:
        run(["expert-a", "expert-b"], candidates)
    assert "expert-a 1.0.0 is incompatible with expert-b" in err.value.message


def test_both_sides_declaring_the_incompatibility_is_one_constraint() -> None:
    candidates = [
        cand("expert-a", "1.0.0", incompatible=["expert-b"]),
        cand("expert-a", "0.9.0"),
        cand("expert-b", "1.0.0", incompatible=["expert-a@>=1"]),
    ]
    assert chosen(run(["expert-a", "expert-b"], candidates)) == {
        "expert-a": "0.9.0",
        "expert-b": "1.0.0",
    }


def test_self_incompatibility_excludes_own_older_versions() -> None:
    # "incompatible_with itself below 1.0" is satisfiable by the expert itself.
    candidates = [cand("expert-a", "1.0.0", incompatible=["expert-a@<1"])]
    assert chosen(run(["expert-a"], candidates)) == {"expert-a": "1.0.0"}


def test_incompatibility_matches_prereleases_conservatively() -> None:
    # The range does not name a pre-release, yet 2.0.0-rc.1 lies inside it: it still clashes.
    candidates = [
        cand("expert-a", "1.0.0", incompatible=["expert-b@>=1.5"]),
        cand("expert-a", "0.5.0"),
        cand("expert-b", "2.0.0-rc.1"),
    ]
    resolution = run(["expert-a", "expert-b@>=2.0.0-rc.1"], candidates)
    assert chosen(resolution) == {"expert-a": "0.5.0", "expert-b": "2.0.0-rc.1"}
