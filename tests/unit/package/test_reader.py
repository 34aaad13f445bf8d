"""Reading packages: round trips with the builder, inspection, and legacy gzip archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import pickletools
import random
import resource
import signal
import stat
import tarfile
import threading
from pathlib import Path

import pytest
import zstandard

from hxpm.core.digest import sha256_file, tree_digest
from hxpm.errors import IntegrityError, NotFoundError, PackageFormatError, StoreError
from hxpm.package.build import BuiltPackage, build_packages
from hxpm.package.reader import MemberInfo, archive_sha256, read_package
from tests.factories import adapter_config, make_expert_dir, manifest_dict, write_safetensors


@pytest.fixture
def built(tmp_path: Path):
    expert = make_expert_dir(tmp_path / "src", "expert-sql", "0.3.0")
    (expert / "soft_prompts").mkdir()
    write_safetensors(expert / "soft_prompts" / "sql.safetensors", {"p": ("F32", [8, 16])})
    (expert / "LICENSE").write_text("MIT\n")
    return build_packages(expert, tmp_path / "out")[0]


def staging(tmp_path: Path, name: str = "staging") -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def test_round_trip_extracts_exact_files(built, tmp_path: Path) -> None:
    target = staging(tmp_path)
    contents = read_package(built.path, extract_to=target, expected_sha256=built.sha256)
    assert contents.sha256 == built.sha256 and contents.tree_sha256 == built.tree_sha256
    assert contents.size == built.size
    assert (contents.compression, contents.legacy, contents.ignored) == ("zstd", False, ())
    assert [(m.path, m.size, m.sha256) for m in contents.members] == list(built.members)
    extracted = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert extracted == sorted(m.path for m in contents.members)
    for member in contents.members:
        path = target / member.path
        assert sha256_file(path) == member.sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert (target / "manifest.json").read_bytes() == contents.manifest_bytes
    assert contents.manifest.name == "expert-sql" and str(contents.manifest.version) == "0.3.0"
    assert tree_digest((m.path, m.sha256) for m in contents.members) == contents.tree_sha256


def test_inspect_without_extracting(built, tmp_path: Path) -> None:
    contents = read_package(built.path)
    assert contents.sha256 == built.sha256 == archive_sha256(built.path)
    assert contents.tree_sha256 == built.tree_sha256
    assert isinstance(contents.members[0], MemberInfo)
    assert contents.members[0].path == "manifest.json"
    assert list(built.path.parent.iterdir()) == [built.path]


def test_expected_digest_is_case_insensitive_and_checked(built) -> None:
    assert read_package(built.path, expected_sha256=built.sha256.upper()).sha256 == built.sha256
    with pytest.raises(IntegrityError, match="not 64 hex digits"):
        read_package(built.path, expected_sha256="abc")
    with pytest.raises(IntegrityError) as info:
        read_package(built.path, expected_sha256="0" * 64)
    assert info.value.details == {"expected": "0" * 64, "got": built.sha256}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_package(tmp_path / "nope.expert")
    with pytest.raises(NotFoundError):
        archive_sha256(tmp_path / "nope.expert")
    with pytest.raises(NotFoundError):
        read_package(tmp_path / "nope.expert", expected_sha256="0" * 64)


def test_staging_must_be_an_empty_directory(built, tmp_path: Path) -> None:
    full = staging(tmp_path, "full")
    (full / "leftover").write_text("x")
    with pytest.raises(StoreError, match="must be empty"):
        read_package(built.path, extract_to=full)
    assert os.listdir(full) == ["leftover"]
    with pytest.raises(StoreError, match="existing directory"):
        read_package(built.path, extract_to=tmp_path / "absent")
    link = tmp_path / "link"
    link.symlink_to(staging(tmp_path, "real"))
    with pytest.raises(StoreError):
        read_package(built.path, extract_to=link)


def test_write_failure_is_a_store_error_and_cleans_up(tmp_path: Path) -> None:
    big = build_packages(
        make_expert_dir(tmp_path / "src", weight_bytes=1_000_000), tmp_path / "out"
    )[0]
    target = staging(tmp_path)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, limits[1]))  # EFBIG, like a full disk
    try:
        with pytest.raises(StoreError, match="cannot write extracted file"):
            read_package(big.path, extract_to=target)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert os.listdir(target) == []


def test_zero_padding_and_multiple_frames_are_fine(tmp_path: Path, built) -> None:
    tar = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(built.path.read_bytes())).read()
    cut = len(tar) // 2
    compressor = zstandard.ZstdCompressor(level=1)
    blob = compressor.compress(tar[:cut]) + compressor.compress(tar[cut:] + bytes(10240))
    path = tmp_path / "frames.expert"
    path.write_bytes(blob)
    assert read_package(path).tree_sha256 == built.tree_sha256


# --- legacy gzip packages (expert-cli 0.3) --------------------------------------------------


def legacy_package(
    tmp_path: Path, *, extra: dict[str, bytes] | None = None, manifest_last: bool = False
) -> Path:
    """A package shaped like the original tool's: gzip, GNU headers, real metadata."""
    src = tmp_path / "legacy-src"
    src.mkdir()
    manifest = manifest_dict(
        "expert-sql", "0.3.0", bases=(("F:/Node/hivellm/expert/models/Qwen3-0.6B", ""),)
    )
    files = {
        "manifest.json": json.dumps(manifest, indent=2).encode(),
        "adapter_model.safetensors": b"",
        "adapter_config.json": json.dumps(adapter_config()).encode(),
        "README.md": b"# expert-sql\n",
        "sql-postgres.gbnf": b'root ::= "SELECT"\n',
        "signature.sig": b"ab" * 64,
        "tests/test_expert.py": b"def test(): pass\n",
        "tests/" + "long_" * 30 + ".json": b"{}",  # > 100 bytes: a GNU long-name header
        **(extra or {}),
    }
    write_safetensors(src / "adapter_model.safetensors", {"w": ("BF16", [4, 8])})
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        if data or name != "adapter_model.safetensors":
            (src / name).write_bytes(data)
    order = sorted(files, key=lambda n: (n == "manifest.json") == manifest_last)
    path = tmp_path / "expert-sql-qwen3-0-6b.v0.3.0.expert"
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name in order:
            if name == "tests/test_expert.py":
                tar.add(src / "tests", arcname="tests", recursive=False)
            tar.add(src / name, arcname=name)
    return path


def test_legacy_gzip_package_reads(tmp_path: Path) -> None:
    path = legacy_package(tmp_path)
    with tarfile.open(path) as tar:  # sanity: the fixture really is what the old tool wrote
        infos = tar.getmembers()
    assert infos[0].name == "manifest.json" and any(i.mtime > 0 for i in infos)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    target = staging(tmp_path)
    contents = read_package(path, extract_to=target, expected_sha256=sha256_file(path))
    assert (contents.compression, contents.legacy) == ("gzip", True)
    assert sorted(contents.ignored) == sorted(
        ["signature.sig", "tests/test_expert.py", "tests/" + "long_" * 30 + ".json"]
    )
    names = sorted(m.path for m in contents.members)
    assert names == sorted(
        [
            "manifest.json",
            "adapter_model.safetensors",
            "adapter_config.json",
            "README.md",
            "sql-postgres.gbnf",
        ]
    )
    assert sorted(os.listdir(target)) == names  # signature.sig and tests/ are not extracted
    assert contents.tree_sha256 == tree_digest((m.path, m.sha256) for m in contents.members)
    assert contents.manifest.variants[0].sha256 == ""
    assert read_package(path).tree_sha256 == contents.tree_sha256


def test_legacy_manifest_may_come_later(tmp_path: Path) -> None:
    contents = read_package(legacy_package(tmp_path, manifest_last=True))
    assert contents.members[-1].path == "manifest.json"
    assert contents.manifest.name == "expert-sql"


class _Trap:
    """Unpickling this creates ``path``: proof, by its absence, that nothing unpickled it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def trap_pickle(marker: Path) -> bytes:
    """A real pickle (as torch/Trainer write them) whose loading would create ``marker``."""
    data = pickle.dumps(_Trap(marker), protocol=4)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]  # read, never loaded
    assert ("SHORT_BINUNICODE", "io") in ops and ("SHORT_BINUNICODE", "open") in ops
    assert {"STACK_GLOBAL", "REDUCE"} <= {name for name, _ in ops}  # it calls io.open(marker)
    return data


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any unpickling attempt through the pickle module fails the test outright."""

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


def legacy_with_skipped(tmp_path: Path, marker: Path) -> Path:
    return legacy_package(
        tmp_path,
        extra={
            "training_args.bin": trap_pickle(marker),
            "expert-sql-qwen3-0-6b.v0.3.0.expert.sha256": b"0" * 64
            + b"  expert-sql-qwen3-0-6b.v0.3.0.expert\n",
        },
    )


def test_legacy_only_members_are_skipped_unread(tmp_path: Path, no_unpickling: None) -> None:
    marker = tmp_path / "UNPICKLED"
    path = legacy_with_skipped(tmp_path, marker)
    target = staging(tmp_path)
    contents = read_package(path, extract_to=target)
    assert sorted(contents.ignored) == sorted(
        [
            "signature.sig",
            "tests/test_expert.py",
            "tests/" + "long_" * 30 + ".json",
            "training_args.bin",
            "expert-sql-qwen3-0-6b.v0.3.0.expert.sha256",
        ]
    )
    assert not marker.exists()
    extracted = sorted(os.listdir(target))
    assert extracted == sorted(m.path for m in contents.members)
    assert "training_args.bin" not in extracted
    assert not any(n.endswith(".sha256") for n in extracted)
    # The tree digest covers exactly what was extracted (so verify --store holds).
    assert contents.tree_sha256 == tree_digest(
        (p.name, sha256_file(p)) for p in (target / n for n in extracted)
    )
    [warning] = [w for w in contents.warnings if w.startswith("legacy package")]
    assert "skipped 5 member(s)" in warning
    for shown in (
        "training_args.bin (HF Trainer arguments, a pickle)",
        "signature.sig",
        "expert-sql-qwen3-0-6b.v0.3.0.expert.sha256 (a checksum sidecar)",
        "tests/ (2 files",
    ):
        assert shown in warning


def test_skipped_members_still_count_against_the_size_caps(tmp_path: Path) -> None:
    from hxpm.package.layout import ReadLimits

    path = legacy_package(tmp_path, extra={"training_args.bin": b"\x80\x04N." + b"x" * 5000})
    with pytest.raises(PackageFormatError, match=r"training_args\.bin.*exceeds the 4096-byte"):
        read_package(path, limits=ReadLimits(max_member_size=4096))


@pytest.mark.parametrize(
    "name",
    [
        "optimizer.pt",
        "pytorch_model.bin",
        "scheduler.pth",
        "rng_state.pkl",
        "tests/fixture.bin",
        "Training_Args.bin",
    ],
)
def test_legacy_pickles_other_than_training_args_are_refused(tmp_path: Path, name: str) -> None:
    path = legacy_package(tmp_path, extra={name: trap_pickle(tmp_path / "UNPICKLED")})
    target = staging(tmp_path)
    with pytest.raises(PackageFormatError, match="pickle files run code"):
        read_package(path, extract_to=target)
    assert os.listdir(target) == [] and not (tmp_path / "UNPICKLED").exists()


def test_legacy_soft_prompt_pickle_says_how_to_convert(tmp_path: Path) -> None:
    path = legacy_package(tmp_path, extra={"soft_prompts/ts_style_48.bin": b"\x80\x04N."})
    with pytest.raises(PackageFormatError) as info:
        read_package(path)
    assert "is a PyTorch pickle" in info.value.message
    assert "safetensors.torch.save_file" in info.value.message


def test_training_args_in_a_zstd_package_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "UNPICKLED"
    raw = gzip.decompress(
        legacy_package(tmp_path, extra={"training_args.bin": trap_pickle(marker)}).read_bytes()
    )
    # Keep everything but the legacy-only members that zstd refuses for their names alone.
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(raw)) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for info in src.getmembers():
            if info.name.startswith("tests") or info.name in ("signature.sig", "sql-postgres.gbnf"):
                continue
            tar.addfile(info, src.extractfile(info) if info.isfile() else None)
    path = tmp_path / "modern.expert"
    path.write_bytes(zstandard.ZstdCompressor().compress(out.getvalue()))
    target = staging(tmp_path, "zstd-staging")
    with pytest.raises(PackageFormatError, match=r"'training_args\.bin': pickle files run code"):
        read_package(path, extract_to=target)
    assert os.listdir(target) == [] and not marker.exists()


def test_legacy_only_members_are_refused_in_zstd_packages(tmp_path: Path) -> None:
    raw = gzip.decompress(legacy_package(tmp_path).read_bytes())
    path = tmp_path / "mixed.expert"
    path.write_bytes(zstandard.ZstdCompressor().compress(raw))
    with pytest.raises(PackageFormatError, match="not allowed in a package"):
        read_package(path)


def test_digest_is_of_the_file_bytes(built) -> None:
    assert archive_sha256(built.path) == hashlib.sha256(built.path.read_bytes()).hexdigest()


# --- progress ---------------------------------------------------------------------------------

MIB = 1 << 20


class Cancelled(Exception):
    """What a caller's progress callback raises to stop a read."""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.threads: set[int] = set()

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.calls.append((phase, done, total))
        self.threads.add(threading.get_ident())

    def phase(self, name: str) -> list[tuple[int, int]]:
        return [(done, total) for phase, done, total in self.calls if phase == name]


@pytest.fixture
def big(tmp_path: Path) -> BuiltPackage:
    # Random weights do not compress: a package of several MiB, so several reports per phase.
    expert = make_expert_dir(tmp_path / "src", weight_bytes=3 * MIB)
    return build_packages(expert, tmp_path / "out")[0]


def check_phase(reports: list[tuple[int, int]], size: int) -> None:
    dones = [done for done, _ in reports]
    assert dones == sorted(set(dones))  # strictly increasing
    assert all(total == size for _, total in reports)
    assert reports[-1] == (size, size)
    assert len(reports) <= size // MIB + 1  # one per MiB crossed, the last one at the end


def test_progress_reports_verify_then_unpack(big: BuiltPackage, tmp_path: Path) -> None:
    recorder = Recorder()
    read_package(
        big.path, extract_to=staging(tmp_path), expected_sha256=big.sha256, progress=recorder
    )
    phases = [phase for phase, _, _ in recorder.calls]
    assert set(phases) == {"verify", "unpack"}
    assert phases == sorted(phases, key=("verify", "unpack").index)  # verify comes first
    for name in ("verify", "unpack"):
        assert len(recorder.phase(name)) >= 3
        check_phase(recorder.phase(name), big.size)
    assert recorder.threads == {threading.get_ident()}  # never from the worker thread


def test_progress_without_expected_digest_has_no_verify_phase(big: BuiltPackage) -> None:
    recorder = Recorder()
    assert read_package(big.path, progress=recorder).sha256 == big.sha256
    assert {phase for phase, _, _ in recorder.calls} == {"unpack"}
    check_phase(recorder.phase("unpack"), big.size)


def test_progress_is_throttled_for_gzip(tmp_path: Path) -> None:
    # gzip reads the file in small pieces; reports must still come at most once per MiB.
    path = legacy_package(tmp_path, extra={"big.gbnf": random.Random(0).randbytes(3 * MIB)})
    recorder = Recorder()
    read_package(path, progress=recorder)
    size = path.stat().st_size
    assert len(recorder.phase("unpack")) >= 3
    check_phase(recorder.phase("unpack"), size)


@pytest.mark.parametrize("phase", ["verify", "unpack"])
@pytest.mark.parametrize("error", [Cancelled, ValueError, EOFError, KeyboardInterrupt])
def test_progress_callback_exception_aborts_and_cleans_up(
    big: BuiltPackage, tmp_path: Path, phase: str, error: type[BaseException]
) -> None:
    # ValueError and EOFError would become PackageFormatError if the reader translated them.
    target = staging(tmp_path)
    seen: list[int] = []

    def progress(current: str, done: int, total: int) -> None:
        if current == phase:
            seen.append(done)
            if len(seen) == 2:  # mid-phase, with members already written when unpacking
                raise error("stop")

    with pytest.raises(error, match=r"^stop$") as info:
        read_package(big.path, extract_to=target, expected_sha256=big.sha256, progress=progress)
    assert type(info.value) is error
    assert seen == [MIB, 2 * MIB]
    assert os.listdir(target) == []
