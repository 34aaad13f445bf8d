"""The routing service over a real store of the demo experts: the router is reused until
the installed experts change (what `hxpm serve` relies on), and the expert set it names is
exactly what resolving the chosen expert over the installed experts gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hxpm.services.expertset import installed_set
from hxpm.services.routing import installed_router, route_prompt
from hxpm.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXPERTS = ROOT / "experts"
BASE = "hxpm/tiny-qwen3"


@pytest.fixture
def demo(cli):
    r = cli("base", "add", BASE, "--path", ROOT / "models" / "tiny-qwen3")
    assert r.code == 0, r.err
    for src in sorted(p for p in EXPERTS.iterdir() if (p / "manifest.json").is_file()):
        r = cli("install", src, "--unsafe-allow-unsigned")
        assert r.code == 0, r.err


def _first_heldout(name: str) -> str:
    line = (EXPERTS / name / "datasets" / "heldout.jsonl").read_text().splitlines()[0]
    return str(json.loads(line)["prompt"])


def test_route_sets_cache_and_output(cli, demo) -> None:
    # One test, one install of the demo experts: installing them is what costs time here.
    _the_expert_set_is_what_resolution_gives()
    _route_prints_one_inert_line(cli)
    _the_router_is_reused_until_an_install_or_removal(cli)


def _the_expert_set_is_what_resolution_gives() -> None:
    store = Store.from_env()
    names = sorted(p.name for p in EXPERTS.iterdir() if (p / "manifest.json").is_file())
    with_requires = 0
    for name in names:
        routed = route_prompt(store, _first_heldout(name))
        assert routed.decision.chosen == name and routed.expert_set is not None
        resolved = installed_set(store, [name], base=BASE)
        assert [(e.name, e.version) for e in routed.expert_set.experts] == [
            (e.name, e.version) for e in resolved.experts
        ]
        assert routed.expert_set.requested == resolved.requested == (name,)
        with_requires += len(resolved.experts) > 1
    assert with_requires >= 1  # the classifier stacks on its requires: the resolver ran


def _the_router_is_reused_until_an_install_or_removal(cli) -> None:
    store = Store.from_env()
    first = installed_router(store, BASE)
    assert installed_router(store, BASE) is first
    assert installed_router(Store.from_env(), BASE) is first  # another handle, same store

    prompt = _first_heldout("expert-rust")
    assert route_prompt(store, prompt).decision.chosen == "expert-rust"
    assert cli("uninstall", "expert-rust").code == 0  # as another process would
    after = installed_router(store, BASE)
    assert after is not first
    assert "expert-rust" not in {c.name for c in after.candidates}
    assert route_prompt(store, prompt).decision.chosen != "expert-rust"

    assert cli("install", EXPERTS / "expert-rust", "--unsafe-allow-unsigned").code == 0
    assert route_prompt(store, prompt).decision.chosen == "expert-rust"
    assert installed_router(store, BASE) is not after


def _route_prints_one_inert_line(cli) -> None:
    r = cli("route", "write a postgres query for the newest orders")
    assert r.code == 0, r.err
    assert r.out.startswith("expert-sql — expert-sql scored") and r.out.count("\n") == 1
