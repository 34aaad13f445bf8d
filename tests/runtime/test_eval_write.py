"""`hxpm eval DIR --write` stores what it measured; `hxpm package` checks the claim.

Also the graded metrics (token_f1, bleu) and `--metric`.
"""

from __future__ import annotations

import datetime
import json
import shutil

import pytest

from hxpm.core.digest import sha256_file
from hxpm.runtime.metrics import bleu, score, token_f1


@pytest.fixture
def trained(cli, tiny, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny.base, base)
    assert cli("base", "add", "hxpm/tiny", "--path", base).code == 0
    d = tmp_path / "expert-demo"
    assert cli("new", "demo", "--dir", d, "--json").code == 0
    r = cli("train", d, "--max-steps", "12", "--device", "cpu", "--threads", "1", "--json")
    assert r.code == 0, r.err
    return d


def test_eval_write_round_trip_and_package_checks_the_dataset_digest(cli, trained):
    d = trained
    before = json.loads((d / "manifest.json").read_text())
    r = cli("eval", d, "--device", "cpu", "--write", "--json")
    assert r.code == 0, r.err
    scores = r.json()
    after = json.loads((d / "manifest.json").read_text())
    q = after["quality_metrics"]
    heldout = before["training"]["dataset"]["heldout"]
    assert q == {
        "metric": scores["metric"],
        "base_model_score": round(scores["base_score"], 6),
        "benchmark_score": round(scores["expert_score"], 6),
        "test_queries": scores["n"],
        "test_date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "dataset": heldout,
        "dataset_sha256": sha256_file(d / heldout),
    }
    # every other field is kept as it was
    assert {k: v for k, v in after.items() if k != "quality_metrics"} == {
        k: v for k, v in before.items() if k != "quality_metrics"
    }
    r = cli("package", d, "-o", d.parent / "dist", "--json")
    assert r.code == 0, r.err

    # The held-out file changes: the recorded scores no longer describe it.
    with (d / heldout).open("a") as f:
        f.write(json.dumps({"prompt": "new", "completion": "item"}) + "\n")
    shutil.rmtree(d.parent / "dist")
    r = cli("package", d, "-o", d.parent / "dist", "--json")
    assert r.code == 5, r.out
    assert "quality_metrics.dataset_sha256" in r.out and "other data" in r.out
    assert not (d.parent / "dist").exists()


def test_eval_metric_option_and_write_refusals(cli, trained, tmp_path):
    d = trained
    r = cli("eval", d, "--device", "cpu", "--metric", "token_f1", "--json")
    assert r.code == 0, r.err
    assert r.json()["metric"] == "token_f1"
    manifest = (d / "manifest.json").read_bytes()
    outside = tmp_path / "elsewhere.jsonl"
    shutil.copy(d / "datasets" / "heldout.jsonl", outside)
    r = cli("eval", d, "--device", "cpu", "--dataset", outside, "--write")
    assert r.code == 2 and "outside" in r.err
    r = cli("eval", d, "--device", "cpu", "--metric", "regex")
    assert r.code == 2 and "pattern" in r.err
    r = cli("eval", d, "--device", "cpu", "--write", "--limit", "2")
    assert r.code == 2 and "--limit" in r.err
    assert (d / "manifest.json").read_bytes() == manifest  # nothing written


def test_graded_metrics():
    assert token_f1("The cat sat.", "a cat sat down") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert bleu("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert 0.5 < bleu("the cat sat on a mat", "the cat sat on the mat") < 0.7
    assert bleu("dog", "the cat sat") == 0.0
    mean, values = score("token_f1", ["a b", "c"], ["a b", "d"])
    assert mean == 0.5 and values == (1.0, 0.0)
