"""``routing.profile`` in index lines: optional, strict, kept byte for byte, read by the cache
for ``hxpm search --prompt`` whether the line was checked yet or not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hxpm.errors import IndexDataError
from hxpm.index.cache import IndexCache
from hxpm.index.model import VersionLine, shard_path
from hxpm.index.routing_summary import MAX_SUMMARY_TERMS, RoutingSummary, parse_routing_summary
from hxpm.index.verified import line_from_verified
from hxpm.routing.profile import SUMMARY_TERMS, parse_profile, summary_terms
from tests.unit.index import COMMIT, line_doc, line_text

EXPERTS = Path(__file__).resolve().parents[3] / "experts"
SUMMARY = {"prompts": 1000, "terms": {"column": 0.2, "supplier": 0.18, "email column": 0.01}}


def _with_profile(profile: object, name: str = "expert-sql") -> str:
    doc = line_doc(name)
    doc["routing"]["profile"] = profile
    return json.dumps(doc, separators=(",", ":"))


def test_a_line_with_a_summary_parses_and_writes_back_unchanged() -> None:
    text = _with_profile(SUMMARY)
    line = VersionLine.parse(text, where="t")
    assert line.routing_profile == RoutingSummary(
        1000, (("column", 0.2), ("supplier", 0.18), ("email column", 0.01))
    )
    assert line.to_json_line() == text
    assert line.with_yanked(True).to_json_line() == text.replace('"yanked":false', '"yanked":true')
    # The verified record reads back the same value.
    assert line_from_verified(text, where="t").routing_profile == line.routing_profile


def test_an_old_line_without_it_is_unchanged() -> None:
    text = line_text()
    line = VersionLine.parse(text, where="t")
    assert line.routing_profile is None
    assert line.to_json_line() == text


@pytest.mark.parametrize(
    ("profile", "what"),
    [
        ([1, 2], "expected an object"),
        ({"prompts": 10}, "terms: expected an object"),
        ({"prompts": 0, "terms": {}}, "prompts: expected an integer >= 1"),
        ({"prompts": True, "terms": {}}, "prompts: expected an integer >= 1"),
        ({"prompts": 5, "terms": {"a": 0}}, "expected a number in (0, 1]"),
        ({"prompts": 5, "terms": {"a": 1.5}}, "expected a number in (0, 1]"),
        ({"prompts": 5, "terms": {"a": "0.5"}}, "expected a number in (0, 1]"),
        ({"prompts": 5, "terms": {" a": 0.5}}, "is not a term"),
        ({"prompts": 5, "terms": {"a\x1b[2J": 0.5}}, "is not a term"),
        ({"prompts": 5, "terms": {"x" * 130: 0.5}}, "is not a term"),
        ({"prompts": 5, "terms": {f"t{i}": 0.5 for i in range(33)}}, "at most 32"),
        ({"prompts": 5, "terms": {}, "weights": {}}, "unexpected key(s) weights"),
    ],
)
def test_a_bad_summary_refuses_the_line_naming_the_field(profile: object, what: str) -> None:
    with pytest.raises(IndexDataError) as info:
        VersionLine.parse(_with_profile(profile), where="experts/ex/pe/expert-sql line 1")
    message = str(info.value)
    assert message.startswith("experts/ex/pe/expert-sql line 1: routing.profile: expected")
    assert what in message


def test_the_summary_of_a_real_profile_is_its_most_useful_terms() -> None:
    from hxpm.core.manifest import Manifest
    from hxpm.package.profile_source import routing_profile_member

    data = routing_profile_member(
        EXPERTS / "expert-sql", Manifest.load(EXPERTS / "expert-sql/manifest.json")
    )
    assert data is not None
    profile = parse_profile(data)
    terms = summary_terms(profile)
    assert len(terms) == SUMMARY_TERMS <= MAX_SUMMARY_TERMS
    assert all(profile.terms[t] == f for t, f in terms)
    assert "column" in dict(terms)
    parse_routing_summary({"prompts": profile.prompts, "terms": dict(terms)})  # fits the caps


def test_the_cache_reads_the_summary_from_checked_and_unchecked_lines(tmp_path: Path) -> None:
    bad = _with_profile({"prompts": 1, "terms": {"x": 7}}, name="expert-json")
    files = [
        (shard_path("expert-sql"), (_with_profile(SUMMARY) + "\n").encode()),
        (shard_path("expert-json"), (bad + "\n").encode()),
        (shard_path("expert-rust"), (line_text("expert-rust") + "\n").encode()),
    ]
    with IndexCache(tmp_path / "cache.sqlite") as cache:
        cache.replace_index_files("main", COMMIT, files)
        before = {e.name: e for e in cache.routing_entries()}
        # Unchecked: a bad summary is left out (keywords only); the line itself is refused
        # at first use by the strict parser, as before.
        assert before["expert-json"].profile is None
        assert before["expert-json"].keywords == ("json",)
        assert before["expert-rust"].profile is None
        assert before["expert-sql"].profile == RoutingSummary(1000, tuple(SUMMARY["terms"].items()))
        with pytest.raises(IndexDataError, match=r"routing\.profile"):
            cache.releases_for("expert-json")
        cache.releases_for("expert-sql")  # first use: checked, stored as a verified record
        after = {e.name: e for e in cache.routing_entries()}
        assert after["expert-sql"] == before["expert-sql"]
        assert (after["expert-sql"].priority, after["expert-sql"].capabilities) == (
            0.5,
            ("tech:sql",),
        )
