"""`hxpm train --resume`: a run killed with SIGKILL continues from its last checkpoint.

The interrupted run is a real `hxpm train` process on the tiny real model; it is killed as
soon as its first checkpoint is complete, then resumed in this process. The resumed run ends
where an uninterrupted run with the same seed ends (within a small tolerance: the two runs
are separate processes, and a resumed data loader re-creates its state).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hxpm.errors import NotFoundError
from hxpm.services.training import TrainRequest, train_expert
from tests.runtime.test_train import WORDS, color, edit_manifest, make_expert, recipe

STEPS = 60
SAVE = 10


def _recipe() -> dict:
    return recipe(save_steps=SAVE, save_total_limit=2, max_steps=STEPS, logging_steps=5)


@pytest.fixture
def store(cli, tiny):
    from hxpm.store.store import Store

    r = cli("base", "add", "hxpm/tiny", "--path", tiny.base)
    assert r.code == 0, r.err
    s = Store.from_env()
    yield s
    s.close()


def _kill_after_first_checkpoint(expert: Path, home: Path) -> Path:
    env = {**os.environ, "HXPM_HOME": str(home), "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "hxpm", "train", str(expert), "--device", "cpu", "--threads", "1"]
    folder = expert / "checkpoints" / "tiny"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (folder / f"checkpoint-{SAVE}" / "trainer_state.json").is_file():
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (expert / "adapter_model.safetensors").exists()  # it never finished
    return folder


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one(
    store, tiny, tmp_path, hxpm_home
):
    words = [color(w) for w in WORDS]
    whole, cut = (
        make_expert(tmp_path / part, "expert-color", tiny.digest, train=words, training=_recipe())
        for part in "ab"
    )

    reference = train_expert(store, TrainRequest(whole, device="cpu", threads=1))
    assert reference.steps == STEPS and reference.first_step == 1

    folder = _kill_after_first_checkpoint(cut, hxpm_home)
    saved = sorted(p.name for p in folder.iterdir())
    assert f"checkpoint-{SAVE}" in saved
    files = {p.name for p in (folder / f"checkpoint-{SAVE}").iterdir()}
    assert "trainable.safetensors" in files and "optimizer.safetensors" in files
    assert not [f for f in files if f.endswith((".pt", ".pth", ".bin"))]  # no pickles

    resumed = train_expert(store, TrainRequest(cut, device="cpu", threads=1, resume=True))
    assert resumed.first_step > SAVE and resumed.steps == STEPS
    # Same seed, same schedule: the resumed run's last losses match the uninterrupted run's.
    assert resumed.last_loss == pytest.approx(reference.last_loss, rel=0.05, abs=0.02)
    assert resumed.last_loss < reference.first_loss / 2
    # Rotation kept at most save_total_limit checkpoints.
    assert len(list(folder.glob("checkpoint-*"))) <= 2


def test_resume_without_a_checkpoint_says_so(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    with pytest.raises(NotFoundError, match="no checkpoint to resume from"):
        train_expert(store, TrainRequest(d, device="cpu", threads=1, resume=True, max_steps=2))


def test_a_fresh_run_clears_old_checkpoints(store, tiny, tmp_path):
    d = make_expert(tmp_path, "expert-color", tiny.digest, train=[color(w) for w in WORDS])
    edit_manifest(d, lambda m: m["training"]["config"].update(save_steps=2))
    stale = d / "checkpoints" / "tiny" / "checkpoint-999"
    stale.mkdir(parents=True)
    (stale / "trainer_state.json").write_text(json.dumps({}))
    result = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=4))
    assert result.steps == 4 and not stale.exists()
    kept = {p.name for p in stale.parent.iterdir() if p.name.startswith("checkpoint-")}
    assert kept == {"checkpoint-2", "checkpoint-4"}
