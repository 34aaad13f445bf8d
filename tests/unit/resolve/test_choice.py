"""Which versions the resolver chooses (docs/architecture.md §7): ranges, preferences,
filters, pins."""

from __future__ import annotations

import pytest

from hxpm.core.versions import Version
from hxpm.errors import ResolutionError
from hxpm.resolve import Candidate, InMemorySource, resolve

from .builders import BASE, OTHER_BASE, OTHER_SHA, SHA, CountingSource, cand, chosen, req, run

B_VERSIONS = ["1.1.0", "1.2.0", "1.2.7", "1.9.0", "2.0.0", "2.3.0"]


def b_versions() -> list[Candidate]:
    return [cand("expert-b", v) for v in B_VERSIONS]


def test_empty_roots_resolve_to_nothing() -> None:
    resolution = run([], b_versions())
    assert resolution.experts == ()
    assert dict(resolution.required_by) == {}


def test_simple_chain_pulls_in_everything_newest() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b"]),
        cand("expert-a", "1.1.0", requires=["expert-b"]),
        cand("expert-b", "1.0.0", requires=["expert-c@^1"]),
        cand("expert-c", "1.0.0"),
        cand("expert-c", "1.4.0"),
        cand("expert-c", "2.0.0"),
    ]
    resolution = run(["expert-a"], candidates)
    assert chosen(resolution) == {"expert-c": "1.4.0", "expert-b": "1.0.0", "expert-a": "1.1.0"}
    assert resolution.names == ("expert-c", "expert-b", "expert-a")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("expert-b", "2.3.0"),
        ("expert-b@*", "2.3.0"),
        ("expert-b@^1.2", "1.9.0"),
        ("expert-b@~1.2", "1.2.7"),
        ("expert-b@>=1.0.0,<1.5.0", "1.2.7"),
        ("expert-b@1.2.0", "1.2.0"),
        ("expert-b@1.2", "1.2.7"),
        ("expert-b<=1.2.0", "1.2.0"),
        ("expert-b@>2.0.0", "2.3.0"),
    ],
)
def test_ranges_pick_the_newest_version_inside(spec: str, expected: str) -> None:
    assert chosen(run([spec], b_versions())) == {"expert-b": expected}


def test_two_ranges_on_one_name_intersect() -> None:
    candidates = [cand("expert-a", "1.0.0", requires=["expert-b@<2"]), *b_versions()]
    resolution = run(["expert-a", "expert-b@^1.2"], candidates)
    assert chosen(resolution)["expert-b"] == "1.9.0"


def test_installed_version_is_preferred_when_it_fits() -> None:
    candidates = [*b_versions(), cand("expert-b", "1.2.0", installed=True, origin="installed")]
    resolution = run(["expert-b"], candidates)
    picked = resolution.experts[0]
    assert (str(picked.version), picked.installed) == ("1.2.0", True)


def test_prefer_installed_false_upgrades_to_newest() -> None:
    candidates = [*b_versions(), cand("expert-b", "1.2.0", installed=True, origin="installed")]
    resolution = run(["expert-b"], candidates, prefer_installed=False)
    assert chosen(resolution) == {"expert-b": "2.3.0"}


def test_installed_version_outside_the_range_is_replaced() -> None:
    candidates = [*b_versions(), cand("expert-b", "1.2.0", installed=True, origin="installed")]
    assert chosen(run(["expert-b@^2"], candidates)) == {"expert-b": "2.3.0"}


@pytest.mark.parametrize("prefer_installed", [True, False])
def test_same_version_installed_beats_the_index_copy(prefer_installed: bool) -> None:
    index = cand("expert-b", "2.3.0", origin="main")
    store = cand("expert-b", "2.3.0", installed=True, origin="installed")
    resolution = run(["expert-b"], [index, store], prefer_installed=prefer_installed)
    assert resolution.experts[0].installed


def test_payload_reaches_the_result_untouched() -> None:
    token = object()
    resolution = run(["expert-b"], [cand("expert-b", "1.0.0", payload=token)])
    assert resolution.experts[0].payload is token


def test_locked_pins_an_older_version() -> None:
    resolution = run(["expert-b"], b_versions(), locked={"expert-b": Version.parse("1.2.0")})
    assert chosen(resolution) == {"expert-b": "1.2.0"}


def test_locked_applies_to_dependencies_too() -> None:
    candidates = [cand("expert-a", "1.0.0", requires=["expert-b@^1"]), *b_versions()]
    resolution = run(["expert-a"], candidates, locked={"expert-b": Version.parse("1.1.0")})
    assert chosen(resolution)["expert-b"] == "1.1.0"


def test_locked_yanked_version_stays_installable() -> None:
    candidates = [cand("expert-b", "1.0.0", yanked=True), cand("expert-b", "2.0.0")]
    resolution = run(["expert-b"], candidates, locked={"expert-b": Version.parse("1.0.0")})
    assert chosen(resolution) == {"expert-b": "1.0.0"}


def test_yanked_version_is_skipped() -> None:
    candidates = [cand("expert-b", "1.0.0"), cand("expert-b", "2.0.0", yanked=True)]
    assert chosen(run(["expert-b"], candidates)) == {"expert-b": "1.0.0"}
    assert chosen(run(["expert-b@>=1"], candidates)) == {"expert-b": "1.0.0"}


@pytest.mark.parametrize("pin", ["expert-b@2.0.0", "expert-b@==2.0.0", "expert-b@=2.0.0"])
def test_yanked_version_is_installable_when_pinned_exactly(pin: str) -> None:
    candidates = [cand("expert-b", "1.0.0"), cand("expert-b", "2.0.0", yanked=True)]
    assert chosen(run([pin], candidates)) == {"expert-b": "2.0.0"}


def test_pinned_yanked_version_also_satisfies_other_ranges() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-b@>=1"]),
        cand("expert-b", "1.0.0"),
        cand("expert-b", "2.0.0", yanked=True),
    ]
    assert chosen(run(["expert-a", "expert-b@2.0.0"], candidates))["expert-b"] == "2.0.0"


PRE = [cand("expert-b", "1.0.0"), cand("expert-b", "2.0.0-rc.1")]


def test_prerelease_is_not_chosen_by_default() -> None:
    assert chosen(run(["expert-b"], PRE)) == {"expert-b": "1.0.0"}


def test_prerelease_is_chosen_when_allowed() -> None:
    assert chosen(run(["expert-b"], PRE, allow_prerelease=True)) == {"expert-b": "2.0.0-rc.1"}


def test_prerelease_is_chosen_when_the_range_names_one() -> None:
    assert chosen(run(["expert-b@>=2.0.0-rc.0"], PRE)) == {"expert-b": "2.0.0-rc.1"}


def test_prerelease_named_by_one_range_passes_another_plain_range() -> None:
    # pip's rule rather than npm's: once any requirement names the pre-release, the other
    # ranges only have to contain it.
    candidates = [*PRE, cand("expert-a", "1.0.0", requires=["expert-b@>=1"])]
    resolution = run(["expert-a", "expert-b@2.0.0-rc.1"], candidates)
    assert chosen(resolution)["expert-b"] == "2.0.0-rc.1"


def test_locked_prerelease_is_allowed() -> None:
    resolution = run(["expert-b"], PRE, locked={"expert-b": Version.parse("2.0.0-rc.1")})
    assert chosen(resolution) == {"expert-b": "2.0.0-rc.1"}


def test_version_without_a_variant_for_the_base_is_skipped() -> None:
    candidates = [cand("expert-b", "1.0.0"), cand("expert-b", "2.0.0", bases=[(OTHER_BASE, "")])]
    assert chosen(run(["expert-b"], candidates)) == {"expert-b": "1.0.0"}
    assert chosen(run(["expert-b"], candidates, base_model=OTHER_BASE)) == {"expert-b": "2.0.0"}


def test_base_name_must_match_exactly() -> None:
    candidates = [cand("expert-b", "1.0.0", bases=[(BASE.lower(), "")])]
    with pytest.raises(ResolutionError):
        run(["expert-b"], candidates)


def test_base_digest_mismatch_is_skipped() -> None:
    candidates = [
        cand("expert-b", "1.0.0", bases=[(BASE, SHA)]),
        cand("expert-b", "2.0.0", bases=[(BASE, OTHER_SHA)]),
    ]
    assert chosen(run(["expert-b"], candidates, base_sha256=SHA)) == {"expert-b": "1.0.0"}
    # Digest unknown on our side: both are eligible, the newest wins.
    assert chosen(run(["expert-b"], candidates)) == {"expert-b": "2.0.0"}


def test_digest_unknown_on_the_variant_is_eligible() -> None:
    candidates = [
        cand("expert-b", "1.0.0", bases=[(BASE, SHA)]),
        cand("expert-b", "2.0.0", bases=[(BASE, "")]),
    ]
    assert chosen(run(["expert-b"], candidates, base_sha256=SHA)) == {"expert-b": "2.0.0"}


def test_any_matching_variant_makes_a_candidate_eligible() -> None:
    candidates = [
        cand("expert-b", "2.0.0", bases=[(OTHER_BASE, ""), (BASE, OTHER_SHA), (BASE, SHA.upper())])
    ]
    assert chosen(run(["expert-b"], candidates, base_sha256=SHA)) == {"expert-b": "2.0.0"}


def test_git_source_requirement_matches_by_name() -> None:
    candidates = [
        cand("expert-json", "0.4.1", origin="https://github.com/u/expert-json"),
        cand("expert-json", "0.3.0", origin="main"),
    ]
    resolution = run(["github.com/u/expert-json@>=0.4"], candidates)
    assert chosen(resolution) == {"expert-json": "0.4.1"}


def test_source_is_asked_once_per_name() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-c@^1"], incompatible=["expert-d@<1"]),
        cand("expert-a", "2.0.0", requires=["expert-c@^2"]),
        cand("expert-b", "1.0.0", requires=["expert-c@^1"]),
        cand("expert-c", "1.0.0"),
        cand("expert-c", "2.0.0"),
    ]
    source = CountingSource(candidates)
    resolution = resolve([req("expert-a"), req("expert-b")], source, base_model=BASE)
    assert chosen(resolution) == {"expert-a": "1.0.0", "expert-b": "1.0.0", "expert-c": "1.0.0"}
    assert source.calls and max(source.calls.values()) == 1


def test_required_by_lists_users_and_requiring_experts() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-c"]),
        cand("expert-b", "2.0.0", requires=["expert-c@>=1"]),
        cand("expert-c", "1.5.0"),
    ]
    resolution = run(["expert-b", "expert-a", "expert-c@^1"], candidates)
    assert dict(resolution.required_by) == {
        "expert-a": ("<user>",),
        "expert-b": ("<user>",),
        "expert-c": ("<user>", "expert-a@1.0.0", "expert-b@2.0.0"),
    }


def test_required_by_forgets_requirers_left_behind_by_backtracking() -> None:
    candidates = [
        cand("expert-a", "2.0.0", requires=["expert-c"], incompatible=["expert-b@>=2"]),
        cand("expert-a", "1.0.0"),
        cand("expert-b", "2.0.0"),
        cand("expert-c", "1.0.0"),
    ]
    resolution = run(["expert-a", "expert-b@>=2"], candidates)
    assert chosen(resolution) == {"expert-a": "1.0.0", "expert-b": "2.0.0"}
    assert "expert-c" not in resolution.required_by


def test_resolution_get_finds_by_name() -> None:
    resolution = run(["expert-b@^1"], b_versions())
    found = resolution.get("expert-b")
    assert found is not None and str(found.version) == "1.9.0"
    assert resolution.get("expert-zzz") is None


def test_in_memory_source_lists_every_version_in_order() -> None:
    source = InMemorySource(b_versions())
    assert [str(c.version) for c in source.candidates_for("expert-b")] == B_VERSIONS
    assert source.candidates_for("expert-nope") == ()
    assert source.names() == ("expert-b",)
