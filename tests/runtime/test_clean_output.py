"""A normal `hxpm run` prints the answer and hxpm's own summary, nothing from the libraries;
HXPM_DEBUG=1 lets library warnings through; library chatter lands in the debug log."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import warnings

import pytest

from tests.factories import manifest_dict

pytest.importorskip("torch")

# What library output looks like on a terminal: warnings, deprecations, loader progress
# bars, torchao's kernel-loading log lines.
NOISE = ("warn", "deprecat", "loading weights", "failed to load", "it/s]", "traceback")


def _run(home, *args: str, debug: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HXPM_HOME": str(home)}
    env.pop("HXPM_DEBUG", None)
    env.pop("PYTHONWARNINGS", None)
    if debug:
        env["HXPM_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "hxpm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def installed(cli, tiny, tmp_path, hxpm_home):
    shutil.copytree(tiny.base, tmp_path / "base")
    assert cli("base", "add", "hxpm/tiny", "--path", tmp_path / "base").code == 0
    d = tmp_path / "expert-sql"
    d.mkdir()
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(tiny.adapters["lora-a"] / f, d / f)
    m = manifest_dict("expert-sql", "1.0.0", bases=(("hxpm/tiny", tiny.digest),), keywords=["sql"])
    (d / "manifest.json").write_text(json.dumps(m))
    assert cli("install", d, "--unsafe-allow-unsigned").code == 0
    return hxpm_home


@pytest.mark.parametrize(
    "extra",
    [
        ("--expert", "expert-sql"),
        ("--expert", "expert-sql", "--quantize", "int8"),
    ],
    ids=["expert", "quantized"],
)
def test_run_prints_no_library_output(installed, extra):
    if "--quantize" in extra:
        pytest.importorskip("torchao")
    r = _run(
        installed, "run", "--prompt", "sql rows", "--max-new-tokens", "6", "--device", "cpu", *extra
    )
    assert r.returncode == 0, r.stderr
    for stream, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        found = [n for n in NOISE if n in text.lower()]
        assert not found, f"{stream} carries library output {found}:\n{text}"
    assert r.stderr.startswith("experts: ")  # hxpm's own summary is the only stderr line
    assert len(r.stderr.strip().splitlines()) == 1


def test_library_output_goes_to_the_debug_log(monkeypatch, caplog, capsys):
    from hxpm.runtime.quiet import library_output

    monkeypatch.delenv("HXPM_DEBUG", raising=False)
    caplog.set_level(logging.DEBUG, logger="hxpm.runtime.libraries")
    hf_logger = logging.getLogger("transformers")
    before = (list(hf_logger.handlers), hf_logger.propagate)
    with library_output():
        warnings.warn("`past_key_values` is deprecated", FutureWarning, stacklevel=1)
        logging.getLogger("transformers.modeling_utils").warning("some weights were not used")
    assert capsys.readouterr().err == ""
    logged = [r.getMessage() for r in caplog.records if r.name == "hxpm.runtime.libraries"]
    assert any("FutureWarning: `past_key_values` is deprecated" in m for m in logged)
    assert any("some weights were not used" in m for m in logged)
    assert (list(hf_logger.handlers), hf_logger.propagate) == before  # restored afterwards


def test_hxpm_debug_shows_library_warnings(monkeypatch):
    from hxpm.runtime.quiet import library_output

    monkeypatch.setenv("HXPM_DEBUG", "1")
    with pytest.warns(FutureWarning, match="will be removed"), library_output():
        warnings.warn("will be removed", FutureWarning, stacklevel=1)
