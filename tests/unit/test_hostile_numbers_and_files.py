"""Issue 10, items 1, 2, 7: hostile numbers, lock files, zstd frames, build metadata, fsync.

Each test feeds the input that used to end in a traceback (OverflowError, ValueError,
TypeError, RecursionError) or in a wrong result, and asserts the refusal: an HxpmError
subclass naming what was wrong, and nothing changed.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
from pathlib import Path

import pytest

from hxpm.core.manifest import Manifest
from hxpm.core.versions import Version, parse_requirement, parse_spec
from hxpm.errors import (
    HxpmError,
    IndexDataError,
    InvalidRequirementError,
    ManifestError,
    PackageFormatError,
    UsageError,
)
from hxpm.index.model import VersionLine
from hxpm.package.safetensors_check import check_safetensors_header
from tests.factories import make_expert_dir, manifest_dict

REPO = Path(__file__).resolve().parents[2]
LINE_FIXTURE = REPO / "tests/fixtures/original-ecosystem/manifests/expert-sql/manifest.json"
HUGE = "1" + "0" * 400  # 1e400 written as an integer: no float holds it


# --- item 1: numbers too large ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "path"),
    [
        ('"alpha": 8', "base_models[0].adapters[0].alpha"),
        ('"priority": 0.5', "routing.priority"),
        ('"load_order": 5', "constraints.load_order"),
    ],
)
def test_a_huge_integer_in_a_manifest_is_refused_with_its_path(old: str, path: str) -> None:
    text = json.dumps(manifest_dict())
    key = old.split(":")[0]
    with pytest.raises(ManifestError) as info:
        Manifest.from_bytes(text.replace(old, f"{key}: {HUGE}").encode())
    assert path in info.value.message and "out of range" in info.value.message


def test_a_huge_integer_from_python_does_not_overflow_the_checks() -> None:
    # from_dict takes any Python object: the float conversion must not be reached.
    data = manifest_dict(extra={"training": {"config": {"epochs": 10**400}}})
    data["base_models"][0]["adapters"][0]["alpha"] = 10**400
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(data)
    paths = [p for p, _v, _e in info.value.problems]
    assert "base_models[0].adapters[0].alpha" in paths and "training.config.epochs" in paths


def test_a_real_manifest_with_a_huge_number_is_refused() -> None:
    doc = json.loads(LINE_FIXTURE.read_bytes())  # written by the older tool's authors
    doc["training"]["config"]["learning_rate"] = 10**400
    with pytest.raises(ManifestError, match=r"training\.config\.learning_rate"):
        Manifest.from_bytes(json.dumps(doc).encode())


@pytest.mark.parametrize("field", ["priority", "load_order"])
def test_a_huge_number_in_an_index_line_is_refused(field: str) -> None:
    from tests.unit.index import line_text  # a line with a real Ed25519 signature

    text = line_text()
    doc = json.loads(text)
    old = json.dumps(doc["routing"]["priority"] if field == "priority" else doc[field])
    needle = f'"{field}":{old}'
    assert needle in text
    with pytest.raises(IndexDataError, match="out of range"):
        VersionLine.parse(text.replace(needle, f'"{field}":{HUGE}'), where="line 1")
    VersionLine.parse(text, where="line 1")  # the line itself is fine


@pytest.mark.parametrize(
    "spec",
    [
        "expert-x@>=1." + "1" * 5000 + ".0",  # past Python's 4300-digit int() limit
        "expert-x@^1." + "1" * 300,  # past semver's 255-character limit
        "expert-x@^0.0." + "9" * 251,  # only the computed upper bound is too long
    ],
)
def test_a_very_long_version_is_a_requirement_error(spec: str) -> None:
    with pytest.raises(InvalidRequirementError, match="at most 255 characters"):
        parse_requirement(spec)
    version = spec.split("@")[1].lstrip(">=^")
    if len(version) > 255:
        with pytest.raises(InvalidRequirementError, match="at most 255 characters"):
            Version.parse(version)


def test_a_long_version_inside_a_manifest_is_a_manifest_error() -> None:
    data = manifest_dict(requires=["expert-x@>=1." + "1" * 5000])
    with pytest.raises(ManifestError, match="at most 255 characters"):
        Manifest.from_bytes(json.dumps(data).encode())


def _safetensors(header: dict[str, object], data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize("shape", [[10**19, 10**19], [2**63, 2**63, 2**63], [10**200]])
def test_a_giant_safetensors_shape_is_refused(shape: list[int]) -> None:
    blob = _safetensors({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(PackageFormatError) as info:
        check_safetensors_header(io.BytesIO(blob), len(blob), member="w.safetensors")
    assert "w.safetensors" in info.value.message


def test_a_million_dimension_shape_is_refused_quickly() -> None:
    shape = [2**63] * 200_000  # the product would have 12.6 million bits
    blob = _safetensors({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(PackageFormatError, match=r"needs \d+ bytes"):
        check_safetensors_header(io.BytesIO(blob), len(blob), member="w")


# --- item 2: lock files -------------------------------------------------------------------


def _lock(**fields: object) -> dict[str, object]:
    base = {
        "format": "hxpm-lock/1",
        "base_model": "hxpm/tiny-qwen3",
        "base_sha256": None,
        "roots": ["expert-sql"],
        "experts": [],
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (_lock(experts=5), "experts: expected a list"),
        (_lock(roots=1), "roots: expected a list of requirement strings"),
        (_lock(roots=[1]), "roots: expected a list of requirement strings"),
        (_lock(base_model=["x"]), "base_model: expected a base model name"),
        (_lock(base_sha256=7), "base_sha256: expected"),
        (_lock(experts=[{"line": {"v": 1}, "index": 3}]), "experts[0]"),
        (_lock(experts=[7]), "experts[0]: expected an object"),
        ([1, 2], "expected format"),
    ],
)
def test_a_lock_file_with_wrong_types_is_refused(tmp_path: Path, doc: object, needle: str) -> None:
    from hxpm.services.lockfile import read_lock

    path = tmp_path / "hxpm.lock"
    path.write_text(json.dumps(doc))
    with pytest.raises(IndexDataError) as info:
        read_lock(path)
    assert needle in info.value.message
    assert info.value.hint


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "hxpm-lock/1", "experts": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"format": "hxpm-lock/1", "x": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}",
        '{"format": "hxpm-lock/1", "format": "hxpm-lock/1"}',
        '{"format": "hxpm-lock/1", "roots": [], "base_model": "b", "experts": [], "n": NaN}',
    ],
)
def test_a_hostile_lock_file_is_refused_cleanly(tmp_path: Path, text: str) -> None:
    from hxpm.services.lockfile import read_lock

    path = tmp_path / "hxpm.lock"
    path.write_text(text)
    with pytest.raises(IndexDataError, match="not a JSON lock file"):
        read_lock(path)


# --- item 7: zstd skippable frames --------------------------------------------------------


def _skippable(payload: bytes) -> bytes:
    return struct.pack("<II", 0x184D2A50, len(payload)) + payload


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_zstd_skippable_frame_is_refused_wherever_it_is(tmp_path: Path, where: str) -> None:
    from hxpm.package.build import build_packages
    from hxpm.package.reader import read_package

    src = make_expert_dir(tmp_path / "src", "expert-z", "1.0.0")
    built = build_packages(src, tmp_path / "dist")[0].path
    blob = built.read_bytes()
    hidden = _skippable(b"not covered by what a reader checks")
    evil = tmp_path / "evil.expert"
    evil.write_bytes(hidden + blob if where == "before" else blob + hidden)
    with pytest.raises(PackageFormatError):
        read_package(evil)
    read_package(built)  # the package itself is fine


# --- item 7: build metadata is not a new version ------------------------------------------


def test_build_metadata_does_not_install_a_second_version(tmp_path: Path, cli) -> None:
    a = make_expert_dir(tmp_path / "a", "expert-m", "1.0.0+build.5")
    b = make_expert_dir(tmp_path / "b", "expert-m", "1.0.0+build.6", seed=3)
    assert cli("install", a, "--unsafe-allow-unsigned").code == 0
    r = cli("install", b, "--unsafe-allow-unsigned")
    assert r.code == 2 and "already installed with other contents" in r.err
    assert [e["version"] for e in cli("list", "--json").json()["experts"]] == ["1.0.0+build.5"]
    r = cli("install", b, "--unsafe-allow-unsigned", "--force-reinstall")
    assert r.code == 0, r.err
    assert [e["version"] for e in cli("list", "--json").json()["experts"]] == ["1.0.0+build.6"]
    assert cli("uninstall", "expert-m@1.0.0").code == 0
    assert cli("list", "--json").json()["experts"] == []
    assert cli("verify", "--store").code == 0


# --- item 7: small refusals on the command line --------------------------------------------


def test_an_argument_too_long_for_a_path_is_a_usage_error(cli) -> None:
    spec = "expert-x@>=1.0.0," + ",".join(f"<2.0.{i}" for i in range(40))
    assert len(spec.encode()) > 255
    for args in (
        ("install", spec),
        ("install", "a" * 300),
        ("verify", "b" * 300),
        ("inspect", "c" * 300),
    ):
        r = cli(*args)
        assert r.code == 2, (args, r.code, r.err)
        assert "Traceback" not in r.err and "File name too long" not in r.err


@pytest.mark.parametrize("value", ["nan", "-1", "abc", "inf", "-inf", "1e999"])
def test_a_bad_lock_timeout_is_refused(cli, tmp_path: Path, monkeypatch, value: str) -> None:
    from hxpm.store.lock import lock_timeout

    monkeypatch.setenv("HXPM_LOCK_TIMEOUT", value)
    with pytest.raises(UsageError, match="HXPM_LOCK_TIMEOUT"):
        lock_timeout()
    src = make_expert_dir(tmp_path / "a", "expert-t", "1.0.0")
    r = cli("install", src, "--unsafe-allow-unsigned")
    assert r.code == 2 and "HXPM_LOCK_TIMEOUT" in r.err
    monkeypatch.setenv("HXPM_LOCK_TIMEOUT", "0")
    assert lock_timeout() == 0.0


@pytest.mark.parametrize(
    "decorate",
    [
        lambda k: k + " ",
        lambda k: k + "\n",
        lambda k: " " + k,
        lambda k: k + "\t",
        lambda k: k[:20] + " " + k[20:],
        lambda k: k + "\x1b[2J",
    ],
)
def test_trust_add_takes_a_key_only_exactly(cli, decorate) -> None:
    r = cli("key", "generate", "--name", "k", "--json")
    key = r.json()["public_key"]
    r = cli("trust", "add", decorate(key), "--name", "pub")
    assert r.code == 2, r.err
    assert cli("trust", "list", "--json").json()["keys"] == []
    assert cli("trust", "add", key, "--name", "pub").code == 0


# --- item 7: the staging tree is made durable before the rename --------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_the_staging_tree_is_fsynced_before_it_is_renamed(tmp_path: Path, cli, monkeypatch) -> None:
    """A power loss cannot be made here; what we can check is the order of the calls:
    every file of the tree is fsynced while it is still in staging, before os.replace."""
    synced: list[str] = []
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src, dst) -> None:  # type: ignore[no-untyped-def]
        events.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    src = make_expert_dir(tmp_path / "a", "expert-f", "1.0.0")
    assert cli("install", src, "--unsafe-allow-unsigned").code == 0
    [stage] = [s for s, _d in events if "/tmp/install-" in s]
    for name in ("manifest.json", "adapter_config.json", "adapter_model.safetensors"):
        assert f"{stage}/{name}" in synced, name
    assert stage in synced  # the directory entry too


def test_every_refusal_here_is_an_hxpm_error() -> None:
    # The families used above map to the documented exit codes (docs/errors.md).
    assert issubclass(IndexDataError, HxpmError) and IndexDataError.exit_code == 5
    assert ManifestError.exit_code == 1 and InvalidRequirementError.exit_code == 2
    assert PackageFormatError.exit_code == 5 and UsageError.exit_code == 2
    assert parse_spec("*").is_any
