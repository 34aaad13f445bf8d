"""`hxpm search --prompt`: experts that are not installed, ranked with the router's scoring.

A real index built the way a publisher builds one (`hxpm package`, `hxpm sign`, a tagged
commit, `hxpm publish`) and served over smart HTTP on 127.0.0.1. Two experts are packaged
with the demo experts' real training sets, so their packages carry routing profiles and
`hxpm publish` writes a `routing.profile` summary into their lines; a third is published
without training data, as every line was before the field existed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hxpm.index.expert_file import parse_expert_file
from hxpm.index.model import shard_path
from hxpm.index.routing_summary import MAX_SUMMARY_TERMS
from tests.integration.distribution import World, serving_world

EXPERTS = Path(__file__).resolve().parents[2] / "experts"
TRAINING = {"training": {"dataset": {"path": "datasets/train.jsonl"}}}


def _release_with_training(world: World, name: str, demo: str, **kw: object) -> None:
    # make_expert_dir fills this folder (exist_ok): the training set is already there.
    src = world.tmp / "src" / f"{name}-0.1.0"
    (src / "datasets").mkdir(parents=True)
    shutil.copyfile(EXPERTS / demo / "datasets/train.jsonl", src / "datasets/train.jsonl")
    world.release(name, "0.1.0", extra=TRAINING, **kw)


@pytest.fixture
def world(tmp_path, git_served, cli, base_dir, monkeypatch):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as w:
        # Keywords no test prompt below uses: the profile alone must find them.
        _release_with_training(w, "expert-sql", "expert-sql", keywords=["sqlish"])
        _release_with_training(w, "expert-cypher", "expert-cypher", keywords=["cypher"])
        w.release("expert-plain", "1.0.0", keywords=["weather"])
        yield w


def _line(world: World, name: str) -> dict:
    data = (world.index_work / shard_path(name)).read_bytes()
    return json.loads(data.decode().splitlines()[-1])


def test_publish_summarises_the_profile_in_the_line(world):
    line = _line(world, "expert-sql")
    summary = line["routing"]["profile"]
    assert summary["prompts"] == sum(
        1 for _ in (EXPERTS / "expert-sql/datasets/train.jsonl").open()
    )
    assert 0 < len(summary["terms"]) <= MAX_SUMMARY_TERMS
    assert "column" in summary["terms"] and all(0 < f <= 1 for f in summary["terms"].values())
    # An old-style line: no field at all, not an empty one.
    assert "profile" not in _line(world, "expert-plain")["routing"]
    # Both kinds parse strictly and write back byte for byte.
    for name in ("expert-sql", "expert-plain"):
        data = (world.index_work / shard_path(name)).read_bytes()
        (parsed,) = parse_expert_file(data, name=name, where=name)
        assert (parsed.to_json_line() + "\n").encode() == data
    assert parsed.routing_profile is None


def test_search_prompt_ranks_experts_that_are_not_installed(world, tmp_path):
    home = world.user(tmp_path / "user")
    r = world.run(home, "search", "--prompt", "List the email column of suppliers", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "hxpm.search-prompt/1"
    assert doc["chosen"] == "expert-sql"
    first = doc["results"][0]
    assert (first["name"], first["index"], first["profiled"], first["installed"]) == (
        "expert-sql",
        "main",
        True,
        None,
    )
    assert any("training-prompt profile" in e for e in first["evidence"])
    assert "expert-plain" not in {m["name"] for m in doc["results"]}

    cypher = world.run(
        home, "search", "--prompt", "return every person node and its friends", "--json"
    ).json()
    assert cypher["chosen"] == "expert-cypher", cypher

    # A general request stays with the base: no expert is chosen.
    generic = world.run(
        home, "search", "--prompt", "Summarize the French revolution in two sentences.", "--json"
    ).json()
    assert generic["chosen"] is None


def test_lines_with_and_without_the_field_verify_and_install(world, tmp_path):
    home = world.user(tmp_path / "user")
    # A dry run reads each name's lines strictly (first use) and plans from them.
    for name in ("expert-sql", "expert-plain"):
        r = world.run(home, "install", name, "--dry-run", "--json")
        assert r.code == 0, r.err
    assert world.run(home, "install", "expert-sql").code == 0
    r = world.run(home, "search", "--prompt", "List the email column of suppliers", "--json")
    first = r.json()["results"][0]
    assert (first["installed"], first["profiled"]) == ("0.1.0", True)  # from verified lines
    r = world.run(home, "search", "--prompt", "List the email column of suppliers")
    assert r.code == 0 and "expert-sql" in r.out and "router's pick" in r.out


def test_prompt_with_a_term_is_a_usage_error(world, tmp_path):
    home = world.user(tmp_path / "user")
    r = world.run(home, "search", "sql", "--prompt", "write a query")
    assert r.code == 2 and "--prompt" in r.err and "Traceback" not in r.err
