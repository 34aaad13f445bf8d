"""Load order, requirement cycles and max_chain (docs/architecture.md §2, §7)."""

from __future__ import annotations

import json
import re

import pytest

from hxpm.errors import DependencyCycleError, MaxChainError, ResolutionError

from .builders import cand, run


def test_independent_experts_follow_load_order_then_name() -> None:
    candidates = [
        cand("expert-c", "1.0.0", load_order=1),
        cand("expert-a", "1.0.0", load_order=5),
        cand("expert-b", "1.0.0", load_order=1),
        cand("expert-d", "1.0.0", load_order=0),
    ]
    resolution = run(["expert-a", "expert-b", "expert-c", "expert-d"], candidates)
    assert resolution.names == ("expert-d", "expert-b", "expert-c", "expert-a")


def test_dependency_loads_first_whatever_its_load_order() -> None:
    candidates = [
        cand("expert-app", "1.0.0", requires=["expert-base"], load_order=0),
        cand("expert-base", "1.0.0", load_order=99),
        cand("expert-solo", "1.0.0", load_order=50),
    ]
    resolution = run(["expert-app", "expert-solo"], candidates)
    assert resolution.names == ("expert-solo", "expert-base", "expert-app")


def test_load_order_is_deterministic_over_a_diamond() -> None:
    candidates = [
        cand("expert-top", "1.0.0", requires=["expert-left", "expert-right"]),
        cand("expert-left", "1.0.0", requires=["expert-root"], load_order=2),
        cand("expert-right", "1.0.0", requires=["expert-root"], load_order=1),
        cand("expert-root", "1.0.0", load_order=7),
    ]
    root_lists = (
        ["expert-top"],
        ["expert-root", "expert-top"],
        ["expert-right", "expert-left", "expert-top"],
    )
    orders = {run(roots, candidates).names for roots in root_lists}
    assert orders == {("expert-root", "expert-right", "expert-left", "expert-top")}


def test_cycle_is_detected_and_named() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b"]),
        cand("expert-b", "1.0.0", requires=["expert-a"]),
    ]
    with pytest.raises(DependencyCycleError) as err:
        run(["expert-b"], candidates)
    assert "expert-a 1.0.0 → expert-b 1.0.0 → expert-a" in err.value.message
    assert isinstance(err.value, ResolutionError) and err.value.exit_code == 3
    report = err.value.details["report"]
    assert report["kind"] == "cycle"
    assert report["cycle"] == ["expert-a@1.0.0", "expert-b@1.0.0"]
    json.dumps(report)


def test_longer_cycle_is_named_from_its_smallest_member() -> None:
    candidates = [
        cand("expert-z", "1.0.0"),
        cand("expert-app", "1.0.0", requires=["expert-x", "expert-z"]),
        cand("expert-x", "1.0.0", requires=["expert-y"]),
        cand("expert-y", "2.0.0", requires=["expert-w"]),
        cand("expert-w", "1.0.0", requires=["expert-x@^1"]),
    ]
    with pytest.raises(DependencyCycleError) as err:
        run(["expert-app"], candidates)
    assert "expert-w 1.0.0 → expert-x 1.0.0 → expert-y 2.0.0 → expert-w" in err.value.message


def test_self_requirement_is_a_cycle() -> None:
    with pytest.raises(DependencyCycleError, match=re.escape("expert-a 1.0.0 → expert-a")):
        run(["expert-a"], [cand("expert-a", "1.0.0", requires=["expert-a"])])


def test_max_chain_counts_the_expert_and_its_closure() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b"], max_chain=2),
        cand("expert-b", "1.0.0", requires=["expert-c"]),
        cand("expert-c", "1.0.0"),
    ]
    with pytest.raises(MaxChainError) as err:
        run(["expert-a"], candidates)
    message = err.value.message
    assert "expert-a 1.0.0" in message and "at most 2" in message and "come to 3" in message
    chain = err.value.details["report"]["max_chain"]
    assert chain == {
        "expert": "expert-a@1.0.0",
        "max_chain": 2,
        "size": 3,
        "members": ["expert-c@1.0.0", "expert-b@1.0.0", "expert-a@1.0.0"],
    }
    assert err.value.exit_code == 3


def test_max_chain_at_the_limit_passes() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b"], max_chain=3),
        cand("expert-b", "1.0.0", requires=["expert-c"]),
        cand("expert-c", "1.0.0"),
        cand("expert-d", "1.0.0"),
    ]
    # expert-d is in the set but not in expert-a's closure: it does not count.
    resolution = run(["expert-a", "expert-d"], candidates)
    assert len(resolution.experts) == 4


def test_max_chain_of_a_dependency_is_checked_too() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b"]),
        cand("expert-b", "1.0.0", requires=["expert-c"], max_chain=1),
        cand("expert-c", "1.0.0"),
    ]
    with pytest.raises(MaxChainError, match=re.escape("expert-b 1.0.0 accepts at most 1")):
        run(["expert-a"], candidates)


def test_shared_dependency_counts_once() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b", "expert-c"], max_chain=4),
        cand("expert-b", "1.0.0", requires=["expert-d"]),
        cand("expert-c", "1.0.0", requires=["expert-d"]),
        cand("expert-d", "1.0.0"),
    ]
    assert len(run(["expert-a"], candidates).experts) == 4


def test_cycle_and_max_chain_reports_have_the_conflict_shape() -> None:
    from .test_conflicts import assert_report_shape

    with pytest.raises(DependencyCycleError) as cycle:
        run(["expert-a"], [cand("expert-a", "1.0.0", requires=["expert-a"])])
    with pytest.raises(MaxChainError) as chain:
        run(
            ["expert-a"],
            [
                cand("expert-a", "1.0.0", requires=["expert-b"], max_chain=1),
                cand("expert-b", "1.0.0"),
            ],
        )
    for err in (cycle.value, chain.value):
        assert_report_shape(err.details["report"])
        assert err.hint  # one concrete next step
