"""Hostile ``.expert`` archives, built for real with tarfile + zstandard/gzip.

Every attack must end in a clean hxpm error (never a tarfile/zstd/json exception), both when
only inspecting and when extracting, and an extraction must leave the staging dir empty.
"""

from __future__ import annotations

import gzip
import io
import json
import resource
import struct
import tarfile
import time
import tracemalloc
import zlib
from collections.abc import Iterable
from pathlib import Path

import pytest
import zstandard

from hxpm.errors import IntegrityError, ManifestError, PackageFormatError
from hxpm.package.build import build_packages
from hxpm.package.layout import DEFAULT_LIMITS, ReadLimits
from hxpm.package.reader import read_package
from tests.factories import adapter_config, lora_tensors, make_expert_dir, manifest_dict

GIB = 1 << 30
Entry = tuple[tarfile.TarInfo, bytes]


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def good_adapter() -> bytes:
    tensors = lora_tensors(layers=1, hidden=8, r=2)
    header, offset = {}, 0
    for name in sorted(tensors):
        shape = tensors[name][1]
        n = 4 * shape[0] * shape[1]
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    return safetensors_bytes(header, bytes(range(256)) * (offset // 256) + b"\1" * (offset % 256))


def good_files(**override: bytes) -> dict[str, bytes]:
    files = {
        "manifest.json": json.dumps(manifest_dict("expert-evil")).encode(),
        "adapter_config.json": json.dumps(adapter_config()).encode(),
        "adapter_model.safetensors": good_adapter(),
    }
    files.update(override)
    return files


def entry(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, **attrs: object) -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def entries(files: dict[str, bytes]) -> list[Entry]:
    return [entry(name, data) for name, data in files.items()]


def tar_bytes(items: Iterable[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in items:
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    return out.getvalue()


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data)


def package(tmp_path: Path, blob: bytes, name: str = "evil.expert") -> Path:
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def refused(
    path: Path,
    *needles: str,
    exc: type[Exception] = PackageFormatError,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> str:
    """Refused when inspecting and when extracting; extraction leaves nothing behind."""
    with pytest.raises(exc) as inspected:
        read_package(path, limits=limits)
    staging = path.parent / f"staging-{path.name}"
    staging.mkdir()
    with pytest.raises(exc) as extracted:
        read_package(path, extract_to=staging, limits=limits)
    assert list(staging.iterdir()) == []
    message = str(inspected.value)
    assert str(extracted.value) == message
    for needle in needles:
        assert needle in message, message
    return message


def test_the_good_archive_is_accepted(tmp_path: Path) -> None:
    contents = read_package(package(tmp_path, zst(tar_bytes(entries(good_files())))))
    assert [m.path for m in contents.members] == list(good_files())


# --- digests and corruption ----------------------------------------------------------------


def test_substituted_archive_fails_digest_before_decompressing(tmp_path: Path) -> None:
    good = build_packages(make_expert_dir(tmp_path / "a"), tmp_path / "out-a")[0]
    other = build_packages(make_expert_dir(tmp_path / "b", seed=7), tmp_path / "out-b")[0]
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(IntegrityError) as info:
        read_package(other.path, extract_to=staging, expected_sha256=good.sha256)
    assert good.sha256 in info.value.message and other.sha256 in info.value.message
    assert list(staging.iterdir()) == []


def test_tampered_byte_with_expected_digest(tmp_path: Path) -> None:
    built = build_packages(make_expert_dir(tmp_path / "src"), tmp_path / "out")[0]
    blob = bytearray(built.path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path = package(tmp_path, bytes(blob))
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        read_package(path, expected_sha256=built.sha256)


def test_flipped_bytes_without_expected_digest(tmp_path: Path) -> None:
    built = build_packages(make_expert_dir(tmp_path / "src"), tmp_path / "out")[0]
    blob = built.path.read_bytes()
    for position in range(4, len(blob), max(1, len(blob) // 40)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x5A
        path = package(tmp_path, bytes(damaged), f"flip-{position}.expert")
        try:
            contents = read_package(path)
        except (PackageFormatError, ManifestError):
            continue
        assert contents.sha256 != built.sha256  # the archive digest always tells


@pytest.mark.parametrize("cut", [10, 100, -4, -1, "half"])
def test_truncated_archive(tmp_path: Path, cut: int | str) -> None:
    blob = zst(tar_bytes(entries(good_files())))
    end = len(blob) // 2 if cut == "half" else cut
    refused(package(tmp_path, blob[:end]), "truncated")  # type: ignore[misc]


def test_tar_without_end_blocks(tmp_path: Path) -> None:
    tar = tar_bytes(entries(good_files()))
    body = tar[: tar.rindex(good_adapter()[-64:]) + 64]
    body += b"\0" * (-len(body) % 512)  # ends cleanly after the last member: no EOF blocks
    refused(package(tmp_path, zst(body)), "truncated or corrupt")


def test_tar_cut_inside_a_member(tmp_path: Path) -> None:
    tar = tar_bytes(entries(good_files()))
    refused(package(tmp_path, zst(tar[: 2048 + 300])), "truncated or corrupt")


def test_trailing_garbage_after_the_frame(tmp_path: Path) -> None:
    blob = zst(tar_bytes(entries(good_files()))) + b"PK\x03\x04 appended zip"
    refused(package(tmp_path, blob), "trailing data after the compressed archive")


def test_trailing_data_after_the_tar_end(tmp_path: Path) -> None:
    tar = tar_bytes(entries(good_files()))
    refused(
        package(tmp_path, zst(tar + b"#!/bin/sh\n" + b"\0" * 502)),
        "trailing data after the end of the tar archive",
    )
    second = tar_bytes([entry("README.md", b"smuggled")])
    refused(
        package(tmp_path, zst(tar) + zst(second), "two-frames.expert"),
        "trailing data after the end",
    )


def test_not_an_archive(tmp_path: Path) -> None:
    refused(package(tmp_path, b"PK\x03\x04" + b"\0" * 100), "not an .expert package")
    refused(package(tmp_path, b"", "empty.expert"), "not an .expert package")


def test_oversized_zstd_window(tmp_path: Path) -> None:
    params = zstandard.ZstdCompressionParameters(window_log=27, compression_level=3)
    out = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(out, closefd=False) as w:
        w.write(tar_bytes(entries(good_files())))
    refused(package(tmp_path, out.getvalue()), "window of 134217728 bytes exceeds")


# --- member names and types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("../adapter_model.safetensors", "escapes the package"),
        ("soft_prompts/../../etc/cron.d/x", "escapes the package"),
        ("/etc/passwd", "absolute path"),
        ("..\\..\\evil.dll", "backslash"),
        ("READ\x01ME.md", "control character"),
        ("soft_prompts//x.safetensors", "empty path part"),
        ("evil.sh", "not allowed in a package"),
        ("nested/README.md", "not allowed in a package"),
        ("soft_prompts/x.txt", "not allowed in a package"),
        ("signature.sig", "not allowed in a package"),  # legacy-only member
        ("tests/test_x.py", "not allowed in a package"),
        ("adapter_model.bin", "pickle files run code"),
        ("soft_prompts/task.pt", "pickle files run code"),
        ("training_args.bin", "pickle files run code"),
        ("weights.PKL", "pickle files run code"),
    ],
)
def test_bad_member_names(tmp_path: Path, name: str, needle: str) -> None:
    items = [*entries(good_files()), entry(name, b"payload")]
    refused(package(tmp_path, zst(tar_bytes(items))), needle)


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        (entry("README.md", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic links"),
        (entry("README.md", kind=tarfile.LNKTYPE, linkname="adapter_config.json"), "hard links"),
        (entry("README.md", kind=tarfile.CHRTYPE, devmajor=1, devminor=3), "device files"),
        (entry("README.md", kind=tarfile.BLKTYPE, devmajor=8, devminor=0), "device files"),
        (entry("README.md", kind=tarfile.FIFOTYPE), "FIFOs"),
        (entry("README.md", kind=tarfile.CONTTYPE), "unsupported tar member type"),
        (entry("weights", kind=tarfile.DIRTYPE), "directories other than soft_prompts/"),
        (entry("tests", kind=tarfile.DIRTYPE), "directories other than soft_prompts/"),
    ],
)
def test_bad_member_types(tmp_path: Path, item: Entry, needle: str) -> None:
    items = [*entries(good_files()), item]
    refused(package(tmp_path, zst(tar_bytes(items, tarfile.GNU_FORMAT))), needle)


def test_gnu_sparse_member(tmp_path: Path) -> None:
    items = [*entries(good_files()), entry("README.md", kind=tarfile.GNUTYPE_SPARSE)]
    refused(package(tmp_path, zst(tar_bytes(items, tarfile.GNU_FORMAT))), "sparse files")


def test_pax_sparse_member(tmp_path: Path) -> None:
    sparse = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "README.md",
        "GNU.sparse.realsize": "99999999999",
    }
    items = [*entries(good_files()), entry("README.md", b"9" * 1024, pax_headers=sparse)]
    refused(package(tmp_path, zst(tar_bytes(items))), "sparse files")


def test_oversized_pax_header(tmp_path: Path) -> None:
    long_name = "soft_prompts/" + "a" * 100_000 + ".safetensors"
    items = [*entries(good_files()), entry(long_name, b"x")]
    refused(package(tmp_path, zst(tar_bytes(items))), "tar metadata header")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("adapter_config.json", "adapter_config.json"),
        ("adapter_config.json", "./adapter_config.json"),
        ("README.md", "././README.md"),
        ("soft_prompts/Task.safetensors", "soft_prompts/task.safetensors"),
    ],
)
def test_duplicate_members(tmp_path: Path, first: str, second: str) -> None:
    files = good_files()
    data = files.get(first.removeprefix("./"), b"")
    if first.startswith("soft_prompts/"):
        data = safetensors_bytes({}, b"")
    items = [*entries(files), entry(second, data)]
    if first not in files:
        items.insert(1, entry(first, data))
    refused(package(tmp_path, zst(tar_bytes(items))), "duplicate member")


def test_manifest_must_come_first(tmp_path: Path) -> None:
    files = good_files()
    items = [
        entry("adapter_config.json", files["adapter_config.json"]),
        entry("manifest.json", files["manifest.json"]),
        entry("adapter_model.safetensors", files["adapter_model.safetensors"]),
    ]
    refused(package(tmp_path, zst(tar_bytes(items))), "manifest.json must be the first member")
    dir_first = [entry("soft_prompts", kind=tarfile.DIRTYPE), *entries(files)]
    refused(package(tmp_path, zst(tar_bytes(dir_first)), "dir.expert"), "must be the first")


def test_missing_required_member(tmp_path: Path) -> None:
    files = good_files()
    del files["adapter_model.safetensors"]
    refused(
        package(tmp_path, zst(tar_bytes(entries(files)))),
        "missing required member",
        "adapter_model.safetensors",
    )


# --- content -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "manifest",
    [
        b"{not json",
        b"[]",
        json.dumps(manifest_dict("Bad_Name")).encode(),
        json.dumps(manifest_dict(version="1.0")).encode(),
        json.dumps(manifest_dict(requires=["expert-json@>>1"])).encode(),
    ],
)
def test_bad_manifest(tmp_path: Path, manifest: bytes) -> None:
    path = package(tmp_path, zst(tar_bytes(entries(good_files(**{"manifest.json": manifest})))))
    refused(path, exc=ManifestError)


def test_multi_variant_manifest(tmp_path: Path) -> None:
    two = manifest_dict(bases=(("a/one", "1" * 64), ("b/two", "2" * 64)))
    files = good_files(**{"manifest.json": json.dumps(two).encode()})
    refused(package(tmp_path, zst(tar_bytes(entries(files)))), "built for one base model")


@pytest.mark.parametrize(
    ("config", "needle"), [(b"{nope", "not valid JSON"), (b"[1]", "expected a JSON object")]
)
def test_bad_adapter_config(tmp_path: Path, config: bytes, needle: str) -> None:
    files = good_files(**{"adapter_config.json": config})
    refused(package(tmp_path, zst(tar_bytes(entries(files)))), "adapter_config.json", needle)


def test_lying_safetensors_header(tmp_path: Path) -> None:
    liar = safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}, b"\0" * 2048
    )
    files = good_files(**{"adapter_model.safetensors": liar})
    refused(
        package(tmp_path, zst(tar_bytes(entries(files)))),
        "adapter_model.safetensors",
        "header says offsets [0, 4096] for a 2048-byte data section",
    )


def test_failure_after_partial_extraction_cleans_up(tmp_path: Path) -> None:
    bad_prompt = safetensors_bytes(
        {"p": {"dtype": "F16", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 8
    )
    items = [
        *entries(good_files(**{"README.md": b"# hi\n"})),
        entry("soft_prompts", kind=tarfile.DIRTYPE),
        entry("soft_prompts/ok.safetensors", safetensors_bytes({}, b"")),
        entry("soft_prompts/z.safetensors", bad_prompt),
    ]
    refused(package(tmp_path, zst(tar_bytes(items))), "soft_prompts/z.safetensors")


# --- limits and bombs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "needle"),
    [
        (ReadLimits(max_members=2), "more than 2 entries"),
        (ReadLimits(max_member_size=256), "exceeds the 256-byte limit"),
        (ReadLimits(max_total_size=600), "600-byte total limit"),
        (ReadLimits(max_manifest_size=64), "exceeds the 64-byte limit"),
        (ReadLimits(max_json_size=32), "exceeds the 32-byte limit"),
    ],
)
def test_limits(tmp_path: Path, limits: ReadLimits, needle: str) -> None:
    refused(package(tmp_path, zst(tar_bytes(entries(good_files())))), needle, limits=limits)


def test_limits_validate_themselves() -> None:
    with pytest.raises(ValueError, match="max_ratio"):
        ReadLimits(max_ratio=0)


def _bomb_tar_chunks(size: int) -> Iterable[bytes]:
    """A tar stream whose README.md is ``size`` zero bytes, produced without holding it."""
    for info, data in entries(good_files()):
        yield info.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512)
    info = tarfile.TarInfo("README.md")
    info.size = size
    yield info.tobuf(tarfile.PAX_FORMAT)
    zeros = bytes(1 << 20)
    for _ in range(size >> 20):
        yield zeros
    yield bytes(1024)


def _measured_read(path: Path) -> tuple[str, float, int, int]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(PackageFormatError) as info:
        read_package(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return info.value.message, elapsed, peak, grown_kib


@pytest.fixture(scope="module")
def zstd_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(out, closefd=False) as writer:
        for chunk in _bomb_tar_chunks(GIB):
            writer.write(chunk)
    path = tmp_path_factory.mktemp("bomb") / "bomb.expert"
    path.write_bytes(out.getvalue())
    return path


def test_zstd_bomb_fails_fast_with_little_memory(zstd_bomb: Path) -> None:
    assert zstd_bomb.stat().st_size < 1 << 20  # 1 GiB of content in well under 1 MiB
    message, elapsed, peak, grown_kib = _measured_read(zstd_bomb)
    assert "decompression bomb" in message
    assert elapsed < 2.0
    assert peak < 48 << 20  # Python-side buffers
    assert grown_kib < 160 << 10  # whole process, C allocations included
    staging = zstd_bomb.parent / "staging"
    staging.mkdir()
    with pytest.raises(PackageFormatError, match="decompression bomb"):
        read_package(zstd_bomb, extract_to=staging)
    assert list(staging.iterdir()) == []


def test_gzip_bomb_fails_fast(tmp_path: Path) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [compressor.compress(chunk) for chunk in _bomb_tar_chunks(256 << 20)]
    path = package(tmp_path, b"".join(parts) + compressor.flush())
    message, elapsed, _, _ = _measured_read(path)
    assert "decompression bomb" in message and elapsed < 2.0


def test_gzip_garbage_and_truncation(tmp_path: Path) -> None:
    blob = gzip.compress(tar_bytes(entries(good_files())), mtime=0)
    refused(package(tmp_path, blob[:-8], "cut.expert"), "truncated or corrupt")
    refused(package(tmp_path, blob + b"garbage!", "tail.expert"), "truncated or corrupt")
