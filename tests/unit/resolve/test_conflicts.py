"""Conflict reports: readable text and the same content as versioned JSON
(docs/architecture.md §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hxpm.core.versions import Version
from hxpm.errors import ResolutionError
from hxpm.resolve import Candidate, resolver

from .builders import OTHER_BASE, OTHER_SHA, SHA, cand, run


def failure(roots: list[str], candidates: list[Candidate], **options: Any) -> ResolutionError:
    with pytest.raises(ResolutionError) as err:
        run(roots, candidates, **options)
    assert type(err.value) is ResolutionError
    assert err.value.exit_code == 3 and err.value.code == "resolution-conflict"
    assert_report_shape(err.value.details["report"])
    return err.value


def assert_report_shape(report: dict[str, Any]) -> None:
    """The documented hxpm.conflict/1 shape, and nothing that json cannot write."""
    assert json.loads(json.dumps(report)) == report
    assert set(report) == {
        "schema",
        "kind",
        "summary",
        "base_model",
        "conflicts",
        "hints",
        "cycle",
        "max_chain",
    }
    assert report["schema"] == "hxpm.conflict/1"
    assert report["kind"] in {"conflict", "too-deep", "cycle", "max-chain"}
    assert isinstance(report["summary"], str) and isinstance(report["hints"], list)
    for conflict in report["conflicts"]:
        assert set(conflict) == {"name", "known", "summary", "demands", "considered"}
        for demand in conflict["demands"]:
            assert set(demand) == {"requirement", "by", "kind", "text", "via"}
            assert all(isinstance(v, str) for v in demand["via"])
            assert demand["kind"] in {"requires", "incompatible_with", "locked"}
        for seen in conflict["considered"]:
            assert set(seen) == {"version", "origin", "installed", "yanked", "reasons"}
            assert seen["reasons"], "every rejected version says why"
            for reason in seen["reasons"]:
                assert set(reason) == {"code", "message"}
                assert reason["code"] in {
                    "range",
                    "base-model",
                    "base-digest",
                    "yanked",
                    "prerelease",
                    "incompatible",
                    "locked",
                    "conflict",
                }


def reasons_by_version(err: ResolutionError, name: str) -> dict[str, list[str]]:
    conflict = next(c for c in err.details["report"]["conflicts"] if c["name"] == name)
    return {v["version"]: [r["code"] for r in v["reasons"]] for v in conflict["considered"]}


def test_no_version_in_the_requested_range() -> None:
    err = failure(["expert-b@>=5"], [cand("expert-b", "1.0.0"), cand("expert-b", "2.0.0")])
    text = err.message
    assert "no version of expert-b satisfies every requirement" in text
    assert "you requested expert-b@>=5" in text
    assert "2.0.0: outside expert-b@>=5 (requested by you)" in text
    assert "loosen the range on expert-b (expert-b@>=5); usable versions: 2.0.0, 1.0.0" in text
    assert reasons_by_version(err, "expert-b") == {"2.0.0": ["range"], "1.0.0": ["range"]}
    report = err.details["report"]
    assert report["kind"] == "conflict" and report["base_model"] == "Qwen/Qwen3-0.6B"
    assert report["conflicts"][0]["demands"] == [
        {
            "requirement": "expert-b@>=5",
            "by": "<user>",
            "kind": "requires",
            "text": "you requested expert-b@>=5",
            "via": [],
        }
    ]


def test_two_experts_want_different_ranges() -> None:
    candidates = [
        cand("expert-a", "1.0.0", requires=["expert-c@^1"]),
        cand("expert-b", "1.0.0", requires=["expert-c@^2"]),
        cand("expert-c", "1.4.0"),
        cand("expert-c", "2.2.0"),
    ]
    err = failure(["expert-a", "expert-b"], candidates)
    assert "expert-a 1.0.0 requires expert-c@^1" in err.message
    assert "expert-b 1.0.0 requires expert-c@^2" in err.message
    assert "outside expert-c@^2 (required by expert-b 1.0.0)" in err.message
    assert reasons_by_version(err, "expert-c") == {"2.2.0": ["range"], "1.4.0": ["range"]}


def test_unknown_name() -> None:
    err = failure(["expert-x"], [cand("expert-b", "1.0.0")])
    assert "no index lists expert-x" in err.message
    conflict = err.details["report"]["conflicts"][0]
    assert (conflict["name"], conflict["known"], conflict["considered"]) == ("expert-x", False, [])
    assert any("check the spelling of expert-x" in h for h in err.details["report"]["hints"])


def test_unknown_git_source_says_which_source() -> None:
    err = failure(["github.com/u/expert-x@>=1"], [])
    assert "no index lists expert-x, and github.com/u/expert-x offered no version" in err.message


def test_unknown_dependency_names_who_required_it() -> None:
    err = failure(["expert-a"], [cand("expert-a", "1.0.0", requires=["expert-x@^2"])])
    assert "expert-a 1.0.0 requires expert-x@^2" in err.message
    assert "no index lists expert-x" in err.message


def test_unknown_dependency_of_the_newest_version_falls_back() -> None:
    candidates = [cand("expert-a", "2.0.0", requires=["expert-x"]), cand("expert-a", "1.0.0")]
    assert [str(c.version) for c in run(["expert-a"], candidates).experts] == ["1.0.0"]


def test_no_variant_for_the_base() -> None:
    candidates = [
        cand("expert-b", "1.0.0", bases=[(OTHER_BASE, "")]),
        cand("expert-b", "2.0.0", bases=[(OTHER_BASE, ""), ("Other/Base", "")]),
    ]
    err = failure(["expert-b"], candidates)
    assert "expert-b has no variant for base Qwen/Qwen3-0.6B" in err.message
    assert "no variant for base Qwen/Qwen3-0.6B (built for: Other/Base, Qwen/Qwen3-1.7B)" in (
        err.message
    )
    assert (
        "install a variant built for Qwen/Qwen3-0.6B (ask the publisher of expert-b for "
        "one), or select a base it supports: Other/Base, Qwen/Qwen3-1.7B"
    ) in err.message
    assert reasons_by_version(err, "expert-b") == {"2.0.0": ["base-model"], "1.0.0": ["base-model"]}


def test_base_digest_differs() -> None:
    err = failure(
        ["expert-b"],
        [cand("expert-b", "1.0.0", bases=[("Qwen/Qwen3-0.6B", OTHER_SHA)])],
        base_sha256=SHA,
    )
    assert "has no variant built for this copy of Qwen/Qwen3-0.6B" in err.message
    assert "built for base sha256 bbbbbbbbbbbb" in err.message
    assert any("re-fetch the base model" in h for h in err.details["report"]["hints"])
    assert reasons_by_version(err, "expert-b") == {"1.0.0": ["base-digest"]}


def test_incompatible_pair_without_alternative() -> None:
    candidates = [
        cand("expert-a", "1.0.0", incompatible=["expert-b@>=1"]),
        cand("expert-b", "1.2.0"),
    ]
    err = failure(["expert-a", "expert-b"], candidates)
    assert "expert-b cannot be installed together with expert-a 1.0.0" in err.message
    assert "expert-a 1.0.0 is incompatible with expert-b@>=1" in err.message
    assert "1.2.0: matches expert-b@>=1 in expert-a 1.0.0's incompatible_with" in err.message
    assert (
        "expert-a 1.0.0 declares incompatible_with expert-b@>=1: drop expert-a or expert-b"
    ) in err.message
    report = err.details["report"]
    demand = report["conflicts"][0]["demands"][1]
    assert demand == {
        "requirement": "expert-b@>=1",
        "by": "expert-a@1.0.0",
        "kind": "incompatible_with",
        "text": "expert-a 1.0.0 is incompatible with expert-b@>=1",
        "via": [],
    }


def test_backtracking_exhausted_reports_every_version_tried() -> None:
    candidates = [
        cand("expert-a", "2.0.0", incompatible=["expert-b@>=2"]),
        cand("expert-a", "1.0.0", incompatible=["expert-b@>=2"]),
        cand("expert-b", "2.1.0"),
        cand("expert-b", "1.0.0"),
    ]
    err = failure(["expert-a", "expert-b@>=2"], candidates)
    assert "expert-a 2.0.0 is incompatible with expert-b@>=2" in err.message
    assert "expert-a 1.0.0 is incompatible with expert-b@>=2" in err.message
    assert reasons_by_version(err, "expert-b") == {
        "2.1.0": ["incompatible", "incompatible"],
        "1.0.0": ["range"],
    }
    assert "expert-a 2.0.0, 1.0.0 declare incompatible_with expert-b@>=2" in err.message


def test_conflict_deep_in_the_graph_names_the_chain() -> None:
    candidates = [
        cand("expert-app", "1.0.0", requires=["expert-sql@^1"]),
        cand("expert-sql", "1.0.0", requires=["expert-json@^1"]),
        cand("expert-json", "1.0.0"),
        cand("expert-json", "2.0.0"),
    ]
    err = failure(["expert-app", "expert-json@^2"], candidates)
    assert "you requested expert-json@^2" in err.message
    assert "expert-sql 1.0.0 requires expert-json@^1 (pulled in by expert-app 1.0.0)" in err.message
    demands = err.details["report"]["conflicts"][0]["demands"]
    assert demands[1]["via"] == ["expert-app@1.0.0"]


def test_only_yanked_versions() -> None:
    candidates = [cand("expert-b", "1.0.0", yanked=True), cand("expert-b", "1.1.0", yanked=True)]
    err = failure(["expert-b@^1"], candidates)
    assert "1.1.0 (yanked): yanked by its publisher" in err.message
    assert "pin with expert-b@1.1.0 to use a yanked version" in err.message
    assert reasons_by_version(err, "expert-b") == {"1.1.0": ["yanked"], "1.0.0": ["yanked"]}
    assert err.details["report"]["conflicts"][0]["considered"][0]["yanked"] is True


def test_only_prereleases() -> None:
    err = failure(["expert-b"], [cand("expert-b", "1.0.0-beta.2")])
    assert reasons_by_version(err, "expert-b") == {"1.0.0-beta.2": ["prerelease"]}
    assert "allow pre-releases, or name one in the range: expert-b@1.0.0-beta.2" in err.message


def test_lock_that_no_longer_fits() -> None:
    candidates = [cand("expert-b", "1.0.0"), cand("expert-b", "2.0.0")]
    err = failure(["expert-b@^2"], candidates, locked={"expert-b": Version.parse("1.0.0")})
    assert "the lock pins expert-b to 1.0.0" in err.message
    assert reasons_by_version(err, "expert-b") == {"2.0.0": ["locked"], "1.0.0": ["range"]}
    assert "the lock pins expert-b@1.0.0: update the lock" in err.message
    demands = err.details["report"]["conflicts"][0]["demands"]
    assert demands[-1] == {
        "requirement": "expert-b@1.0.0",
        "by": "<lock>",
        "kind": "locked",
        "text": "the lock pins expert-b to 1.0.0",
        "via": [],
    }


def test_origin_and_installed_are_shown() -> None:
    candidates = [
        cand("expert-b", "1.0.0", installed=True, origin="installed"),
        cand("expert-b", "1.0.0", origin="main"),
    ]
    err = failure(["expert-b@^3"], candidates)
    assert "1.0.0 (installed, installed): outside" in err.message
    assert "1.0.0 (main): outside" in err.message


def test_many_versions_are_shortened_in_text_only() -> None:
    candidates = [cand("expert-b", f"1.{i}.0") for i in range(30)]
    err = failure(["expert-b@^2"], candidates)
    assert "… and 10 older" in err.message
    assert len(err.details["report"]["conflicts"][0]["considered"]) == 30


def test_gives_up_after_too_many_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "MAX_ROUNDS", 2)
    candidates = [cand(f"expert-{c}", "1.0.0") for c in "abcd"]
    err = failure(["expert-a", "expert-b", "expert-c", "expert-d"], candidates)
    report = err.details["report"]
    assert report["kind"] == "too-deep"
    assert "gave up after 2 rounds" in err.message
    assert any("pin some experts" in h for h in report["hints"])


def test_the_message_is_the_rendered_report() -> None:
    from hxpm.resolve.conflict_report import ConflictReport, render_text

    err = failure(["expert-b@>=5"], [cand("expert-b", "1.0.0")])
    assert err.message.startswith(
        "Cannot resolve the requested experts for base Qwen/Qwen3-0.6B: no version of expert-b"
    )
    assert "To fix this you could:" in err.message
    assert err.hint is None  # the hints are in the message and in details["report"]["hints"]
    assert render_text(ConflictReport("conflict", "x", "B")) == (
        "Cannot resolve the requested experts for base B: x."
    )
