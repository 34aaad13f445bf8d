"""The seven demo experts, installed from the demo index through Git, reach their scores.

The scores are recomputed here by running every held-out item through the same path as
`hxpm run` (Session, greedy decoding), then compared with what each expert's README and
experts/SCORES.json document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from demo_repos import DEMO_URL, EXPERTS, make_expert_repos, make_repo  # noqa: E402

DOCUMENTED = json.loads((ROOT / "experts" / "SCORES.json").read_text())
# Greedy decoding is deterministic on one machine; other CPUs may round a logit differently.
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    import os

    from hxpm.cli.app import main

    tmp = tmp_path_factory.mktemp("demo")
    served = tmp / "git"
    make_expert_repos(served)
    make_repo(ROOT / "index", served / "index.git", tag=None, message="hxpm demo index")
    saved = {k: os.environ.get(k) for k in ("HXPM_HOME", "HXPM_GIT_MIRRORS", "HXPM_OFFLINE")}
    os.environ.update(
        HXPM_HOME=str(tmp / "home"),
        HXPM_OFFLINE="",
        HXPM_GIT_MIRRORS=f"{DEMO_URL}={served.as_uri()}/",
    )
    public = ROOT / "demo" / "keys" / "demo-publisher.pub"

    def hxpm(*args: str) -> None:
        try:
            main(list(args))
        except SystemExit as e:
            assert e.code in (0, None), args

    hxpm("base", "add", "hxpm/tiny-qwen3", "--path", str(ROOT / "models" / "tiny-qwen3"))
    hxpm("trust", "add", str(public), "--name", "hxpm-demo", "--experts", "expert-*")
    hxpm("index", "add", "demo", f"{DEMO_URL}index.git")
    hxpm("install", "expert-document-classifier", *EXPERTS)
    yield tmp / "home"
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_all_seven_are_documented():
    assert sorted(DOCUMENTED) == sorted(EXPERTS)
    for name, s in DOCUMENTED.items():
        readme = (ROOT / "experts" / name / "README.md").read_text()
        assert f"{s['expert']:.2f}" in readme or f"{s['expert']:.3f}" in readme, name
        assert s["expert"] > s["base"] + 0.1, name


@pytest.mark.parametrize("name", EXPERTS)
def test_installed_expert_reaches_its_documented_score(demo_store, name):
    from hxpm.services.evaluation import EvalRequest, evaluate_expert
    from hxpm.store.store import Store

    heldout = ROOT / "experts" / name / "datasets" / "heldout.jsonl"
    result = evaluate_expert(
        Store.from_env(), EvalRequest(None, heldout, installed=name, device="cpu")
    )
    documented = DOCUMENTED[name]
    assert result.metric == documented["metric"] and result.n == documented["n"]
    assert result.expert_score >= documented["expert"] - TOLERANCE, (name, result.expert_score)
    assert result.expert_score > result.base_score + 0.1, name
