"""`hxpm new` → `hxpm train` → `hxpm eval` → `hxpm package` from the command line."""

from __future__ import annotations

import shutil


def test_new_train_eval_package(cli, tiny, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny.base, base)
    assert cli("base", "add", "hxpm/tiny", "--path", base).code == 0
    r = cli("new", "demo", "--dir", tmp_path / "expert-demo", "--json")
    assert r.code == 0, r.err
    d = tmp_path / "expert-demo"

    r = cli("train", d, "--max-steps", "12", "--seed", "3", "--device", "cpu", "--json")
    assert r.code == 0, r.err
    trained = r.json()
    assert trained["steps"] == 12 and trained["last_loss"] < trained["first_loss"]
    assert (d / "adapter_model.safetensors").is_file()

    r = cli("eval", d, "--device", "cpu", "--json")
    assert r.code == 0, r.err
    scores = r.json()
    assert scores["metric"] == "exact_match" and scores["n"] > 0
    assert 0.0 <= scores["base_score"] <= 1.0 and 0.0 <= scores["expert_score"] <= 1.0
    one = cli("eval", d, "--device", "cpu", "--batch-size", "1", "--json")
    assert one.code == 0, one.err
    assert {k: v for k, v in one.json().items() if k != "seconds"} == {
        k: v for k, v in scores.items() if k != "seconds"
    }
    refused = cli("eval", d, "--batch-size", "0")
    assert refused.code == 2 and "--batch-size" in refused.err

    r = cli("package", d, "--json")
    assert r.code == 0, r.err
    assert cli("eval", "--device", "cpu").code == 2  # neither DIR nor --installed
