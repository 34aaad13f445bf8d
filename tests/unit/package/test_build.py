"""Building ``.expert`` packages: names, contents, reproducibility and author-side refusals."""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import tarfile
from pathlib import Path

import pytest
import zstandard

from hxpm.core.digest import sha256_file, tree_digest
from hxpm.core.manifest import Manifest
from hxpm.errors import ManifestError, NotFoundError, PackageBuildError, StoreError
from hxpm.package.build import BuiltPackage, build_packages
from tests.factories import make_expert_dir, manifest_dict, write_safetensors

QWEN = ("Qwen/Qwen3-0.6B", "a" * 64)
TINY = ("hxpm/tiny-qwen3", "b" * 64)


def tar_of(package: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    """Decompress a built package independently of hxpm's reader."""
    data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(package.read_bytes())).read()
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar:
            f = tar.extractfile(info)
            out.append((info, f.read() if f else b""))
    return out


@pytest.fixture
def expert(tmp_path: Path) -> Path:
    return make_expert_dir(tmp_path / "src", "expert-sql", "0.3.0", bases=(QWEN, TINY))


def test_one_package_per_variant(expert: Path, tmp_path: Path) -> None:
    built = build_packages(expert, tmp_path / "out")
    assert [p.path.name for p in built] == [
        "expert-sql-qwen3-0-6b.v0.3.0.expert",
        "expert-sql-tiny-qwen3.v0.3.0.expert",
    ]
    first = built[0]
    assert (first.name, first.version, first.base_model, first.base_sha256) == (
        "expert-sql",
        "0.3.0",
        "Qwen/Qwen3-0.6B",
        "a" * 64,
    )
    assert first.sha256 == sha256_file(first.path)
    assert first.size == first.path.stat().st_size
    assert first.tree_sha256 == tree_digest((p, d) for p, _, d in first.members)
    assert sorted(os.listdir(tmp_path / "out")) == sorted(p.path.name for p in built)


def test_base_selects_one_variant(expert: Path, tmp_path: Path) -> None:
    built = build_packages(expert, tmp_path / "out", base="hxpm/tiny-qwen3")
    assert [p.base_model for p in built] == ["hxpm/tiny-qwen3"]
    with pytest.raises(NotFoundError):
        build_packages(expert, tmp_path / "out", base="meta/llama")


def test_archive_layout_is_canonical(expert: Path, tmp_path: Path) -> None:
    (expert / "LICENSE").write_text("MIT\n")
    (expert / "grammar.gbnf").write_text('root ::= "x"\n')
    (expert / "tokenizer.json").write_text("{}")
    built = build_packages(expert, tmp_path / "out", base="Qwen/Qwen3-0.6B")[0]
    entries = tar_of(built.path)
    names = [info.name for info, _ in entries]
    assert names[0] == "manifest.json"
    assert names[1:] == sorted(names[1:])
    assert set(names) == {
        "manifest.json",
        "adapter_config.json",
        "adapter_model.safetensors",
        "README.md",
        "LICENSE",
        "grammar.gbnf",
        "tokenizer.json",
    }
    for info, data in entries:
        assert info.isreg() and info.mode == 0o644 and info.mtime == 0
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert not info.pax_headers  # short ASCII names: plain USTAR headers
        if info.name != "manifest.json":
            assert data == (expert / info.name).read_bytes()
    assert [(m[0], m[1]) for m in built.members] == [(i.name, len(d)) for i, d in entries]


def test_manifest_is_reduced_to_the_variant(expert: Path, tmp_path: Path) -> None:
    built = build_packages(expert, tmp_path / "out", base="hxpm/tiny-qwen3")[0]
    info, data = tar_of(built.path)[0]
    assert info.name == "manifest.json"
    assert (
        data
        == Manifest.load(expert / "manifest.json").reduced_to("hxpm/tiny-qwen3").to_json_bytes()
    )
    assert [b["name"] for b in json.loads(data)["base_models"]] == ["hxpm/tiny-qwen3"]


def test_zstd_frame_is_fixed(expert: Path, tmp_path: Path) -> None:
    blob = build_packages(expert, tmp_path / "out")[0].path.read_bytes()
    params = zstandard.get_frame_parameters(blob)
    assert blob[:4] == b"\x28\xb5\x2f\xfd"
    assert params.has_checksum
    assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN


def test_reproducible_bytes(expert: Path, tmp_path: Path) -> None:
    first = build_packages(expert, tmp_path / "a")
    for path in expert.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    (expert / "README.md").chmod(0o600)
    copy = shutil.copytree(expert, tmp_path / "elsewhere" / "renamed")
    second = build_packages(copy, tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert (a.sha256, a.tree_sha256, a.members) == (b.sha256, b.tree_sha256, b.members)


def test_content_change_changes_digests(expert: Path, tmp_path: Path) -> None:
    before = build_packages(expert, tmp_path / "a")[0]
    (expert / "README.md").write_text("changed\n")
    after = build_packages(expert, tmp_path / "b")[0]
    assert before.sha256 != after.sha256 and before.tree_sha256 != after.tree_sha256


def test_per_variant_weights_folders(expert: Path, tmp_path: Path) -> None:
    for slug, seed in (("qwen3-0-6b", 1), ("tiny-qwen3", 2)):
        folder = expert / "weights" / slug
        folder.mkdir(parents=True)
        shutil.copy(expert / "adapter_config.json", folder)
        write_safetensors(folder / "adapter_model.safetensors", {"w": ("F32", [4, 4])}, seed=seed)
        (folder / "soft_prompts").mkdir()
        write_safetensors(folder / "soft_prompts" / "task.safetensors", {"p": ("F16", [8, 16])})
    (expert / "adapter_model.safetensors").unlink()  # the root copy is not used any more
    built = build_packages(expert, tmp_path / "out")
    for package, slug in zip(built, ("qwen3-0-6b", "tiny-qwen3"), strict=True):
        files = {i.name: d for i, d in tar_of(package.path)}
        weights = expert / "weights" / slug / "adapter_model.safetensors"
        assert files["adapter_model.safetensors"] == weights.read_bytes()
        assert "soft_prompts/task.safetensors" in files
        assert files["README.md"] == (expert / "README.md").read_bytes()  # shared file
    assert built[0].tree_sha256 != built[1].tree_sha256


def test_no_temp_files_left_on_failure(expert: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (expert / "adapter_model.safetensors").write_bytes(b"\0" * 4)
    with pytest.raises(PackageBuildError):
        build_packages(expert, out)
    assert not out.exists() or list(out.iterdir()) == []


def test_write_failure_is_a_store_error(tmp_path: Path) -> None:
    expert = make_expert_dir(tmp_path / "src", weight_bytes=1_000_000)
    out = tmp_path / "out"
    out.mkdir()
    # A real EFBIG half-way through the archive, like a full disk.
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, limits[1]))
    try:
        with pytest.raises(StoreError, match="could not write"):
            build_packages(expert, out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert list(out.iterdir()) == []


# --- refusals ------------------------------------------------------------------------------


def refuse(expert: Path, tmp_path: Path, *needles: str) -> PackageBuildError:
    with pytest.raises(PackageBuildError) as info:
        build_packages(expert, tmp_path / "out")
    for needle in needles:
        assert needle in info.value.message, info.value.message
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())  # no package, no temp file
    return info.value


@pytest.mark.parametrize(
    "name",
    [
        "training_args.bin",
        "adapter_model.pt",
        "optimizer.pth",
        "state.pkl",
        "x.PICKLE",
        "model.ckpt",
    ],
)
def test_pickle_in_weights_folder(expert: Path, tmp_path: Path, name: str) -> None:
    (expert / name).write_bytes(b"\x80\x04K\x01.")
    error = refuse(expert, tmp_path, name, "pickle")
    assert error.hint and "safetensors" in error.hint


def test_pickle_soft_prompt(expert: Path, tmp_path: Path) -> None:
    (expert / "soft_prompts").mkdir()
    (expert / "soft_prompts" / "task.pt").write_bytes(b"\x80\x04.")
    error = refuse(
        expert,
        tmp_path,
        "'soft_prompts/task.pt' is a PyTorch pickle",
        "safetensors.torch.save_file",
        "point soft_prompts[].path at the .safetensors",
    )
    assert "is a pickle file" not in error.message


def _declare_soft_prompt(expert: Path, path: str) -> None:
    manifest = json.loads((expert / "manifest.json").read_text())
    manifest["soft_prompts"] = [{"name": "style", "path": path, "tokens": 48}]
    (expert / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


@pytest.mark.parametrize("path", ["soft_prompts/ts_style_48.bin", "prompts/style.pt"])
def test_declared_pickle_soft_prompt_present_says_how_to_convert(
    expert: Path, tmp_path: Path, path: str
) -> None:
    _declare_soft_prompt(expert, path)
    (expert / path).parent.mkdir()
    (expert / path).write_bytes(b"\x80\x04.")
    error = refuse(expert, tmp_path, f"{path}' is a PyTorch pickle", "safetensors.torch.save_file")
    assert "is a pickle file" not in error.message


def test_declared_pickle_soft_prompt_absent_builds_with_the_warning(
    expert: Path, tmp_path: Path
) -> None:
    # The older tool's expert-typescript declares soft_prompts/ts_style_48.bin, a file its
    # repository does not hold; its packager skipped soft prompts it did not find.
    _declare_soft_prompt(expert, "soft_prompts/ts_style_48.bin")
    built = build_packages(expert, tmp_path / "out")
    for b in built:
        assert not any(name.startswith("soft_prompts/") for name, _, _ in b.members)
        [warning] = [w for w in b.warnings if "soft_prompts[0].path" in w]
        assert "'soft_prompts/ts_style_48.bin' is a PyTorch pickle" in warning
        assert "convert it" in warning


@pytest.mark.parametrize("name", ["adapter_model.safetensors", "adapter_config.json"])
def test_missing_required_file(expert: Path, tmp_path: Path, name: str) -> None:
    (expert / name).unlink()
    error = refuse(expert, tmp_path, name, "missing")
    assert error.hint and "weights" in error.hint


@pytest.mark.parametrize(
    ("text", "needle"), [("[1, 2]", "expected a JSON object"), ("{nope", "not valid JSON")]
)
def test_bad_adapter_config(expert: Path, tmp_path: Path, text: str, needle: str) -> None:
    (expert / "adapter_config.json").write_text(text)
    refuse(expert, tmp_path, "adapter_config.json", needle)


def test_lying_safetensors_header(expert: Path, tmp_path: Path) -> None:
    path = expert / "adapter_model.safetensors"
    path.write_bytes(path.read_bytes()[:-16])  # data section shorter than the header says
    refuse(expert, tmp_path, "adapter_model.safetensors", "invalid safetensors")


def test_bad_soft_prompt_name(expert: Path, tmp_path: Path) -> None:
    (expert / "soft_prompts").mkdir()
    write_safetensors(expert / "soft_prompts" / "bad name.safetensors", {"p": ("F32", [1])})
    refuse(expert, tmp_path, "bad name.safetensors", "not allowed")


def test_declared_soft_prompt_must_exist(tmp_path: Path) -> None:
    extra = {
        "soft_prompts": [{"name": "task", "path": "soft_prompts/task.safetensors", "tokens": 8}]
    }
    expert = make_expert_dir(tmp_path / "src", extra=extra)
    refuse(expert, tmp_path, "soft_prompts[0].path", "no such soft prompt")
    (expert / "soft_prompts").mkdir()
    write_safetensors(expert / "soft_prompts" / "task.safetensors", {"p": ("F32", [8, 4])})
    built = build_packages(expert, tmp_path / "out")[0]
    assert "soft_prompts/task.safetensors" in [m[0] for m in built.members]


def test_no_manifest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackageBuildError, match=r"no manifest\.json"):
        build_packages(tmp_path / "empty", tmp_path / "out")


def test_invalid_manifest_propagates(expert: Path, tmp_path: Path) -> None:
    data = manifest_dict("Bad_Name")
    (expert / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError):
        build_packages(expert, tmp_path / "out")


def test_built_package_is_frozen(expert: Path, tmp_path: Path) -> None:
    built = build_packages(expert, tmp_path / "out")[0]
    with pytest.raises(AttributeError):
        built.sha256 = "x"  # type: ignore[misc]
    assert isinstance(built, BuiltPackage)
