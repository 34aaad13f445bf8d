"""Header-only safetensors validation against real and hand-crafted (lying) files."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from hxpm.errors import PackageFormatError
from hxpm.package.safetensors_check import (
    check_safetensors_file,
    check_safetensors_header,
)
from tests.factories import lora_tensors, write_safetensors


def raw_file(header: Any, data: bytes = b"", *, header_bytes: bytes | None = None) -> bytes:
    """A safetensors file whose header says whatever the test wants."""
    head = header_bytes if header_bytes is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def check(blob: bytes, member: str = "adapter_model.safetensors"):
    return check_safetensors_header(io.BytesIO(blob), len(blob), member=member)


def refused(blob: bytes, *needles: str) -> str:
    with pytest.raises(PackageFormatError) as info:
        check(blob)
    message = info.value.message
    assert "adapter_model.safetensors" in message
    for needle in needles:
        assert needle in message, message
    return message


def test_real_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "adapter_model.safetensors"
    write_safetensors(path, lora_tensors(layers=2, hidden=16, r=2))
    header = check_safetensors_file(path)
    assert len(header.tensors) == 8
    assert header.data_size == sum(t.end - t.start for t in header.tensors)
    assert path.stat().st_size == 8 + header.header_size + header.data_size
    starts = [t.start for t in header.tensors]
    assert starts == sorted(starts)
    assert all(t.dtype == "F32" for t in header.tensors)


def test_callable_reader_and_metadata() -> None:
    blob = raw_file(
        {
            "__metadata__": {"format": "pt"},
            "a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
        },
        b"\1" * 12,
    )
    calls: list[int] = []
    stream = io.BytesIO(blob)

    def read(n: int) -> bytes:
        calls.append(n)
        return stream.read(n)

    header = check_safetensors_header(read, len(blob), member="x")
    assert header.metadata == (("format", "pt"),)
    assert header.tensors[0].shape == (2, 3)
    assert len(calls) == 2  # length prefix, then header: never the data


def test_empty_file_with_no_tensors_is_valid() -> None:
    assert check(raw_file({})).tensors == ()


def test_padding_spaces_and_zero_sized_tensors() -> None:
    head = json.dumps(
        {
            "e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]},
            "b": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
        }
    ).encode()
    head += b" " * (-len(head) % 8)
    assert len(check(raw_file(None, b"abc", header_bytes=head)).tensors) == 2


def test_offsets_past_the_data_section_are_named() -> None:
    blob = raw_file(
        {"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}, b"\0" * 2048
    )
    refused(blob, "tensor 'w'", "header says offsets [0, 4096] for a 2048-byte data section")


def test_size_must_match_shape_and_dtype() -> None:
    blob = raw_file({"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 64]}}, b"\0" * 64)
    refused(blob, "tensor 'w'", "needs 32 bytes", "hold 64")


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}, "unknown dtype 'Q4'"),
        ({"shape": [1], "data_offsets": [0, 1]}, "unknown dtype None"),
        ({"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}, "non-negative"),
        ({"dtype": "U8", "shape": [True], "data_offsets": [0, 1]}, "non-negative"),
        ({"dtype": "U8", "shape": "1", "data_offsets": [0, 1]}, "non-negative"),
        ({"dtype": "U8", "shape": [1], "data_offsets": [0]}, "[start, end]"),
        ({"dtype": "U8", "shape": [1], "data_offsets": [0, 1.0]}, "[start, end]"),
        ({"dtype": "U8", "shape": [1], "data_offsets": [False, True]}, "[start, end]"),
        ({"dtype": "U8", "shape": [1], "data_offsets": [1, 0]}, "header says offsets [1, 0]"),
        ({"dtype": "F4", "shape": [3], "data_offsets": [0, 1]}, "needs 1.5 bytes"),
        ("nope", "not an object"),
    ],
)
def test_bad_tensor_entries(entry: Any, needle: str) -> None:
    refused(raw_file({"t": entry}, b"\0"), "tensor 't'", needle)


def test_overlap_gap_and_uncovered_bytes() -> None:
    u8 = lambda a, b: {"dtype": "U8", "shape": [b - a], "data_offsets": [a, b]}  # noqa: E731
    refused(raw_file({"a": u8(0, 4), "b": u8(2, 6)}, b"\0" * 6), "overlap")
    refused(raw_file({"a": u8(0, 2), "b": u8(4, 6)}, b"\0" * 6), "belong to no tensor")
    refused(raw_file({"a": u8(2, 4)}, b"\0" * 4), "belong to no tensor")
    refused(raw_file({"a": u8(0, 4)}, b"\0" * 6), "tensors cover 4 bytes of a 6-byte data section")
    refused(raw_file({}, b"\0"), "cover 0 bytes of a 1-byte")


def test_duplicate_tensor_names_are_refused() -> None:
    head = (
        b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        b'"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    )
    refused(raw_file(None, b"\0", header_bytes=head), "duplicate key 'a'")


@pytest.mark.parametrize(
    ("blob", "needle"),
    [
        (b"\1\0\0", "too short"),
        (struct.pack("<Q", 50) + b"{}", "exceeds the file"),
        (struct.pack("<Q", 200 * (1 << 20)) + b"{}" + b"\0" * 10, "exceeds the file"),
        (raw_file(None, header_bytes=b"\xff\xfe"), "not UTF-8"),
        (raw_file(None, header_bytes=b"{nope"), "not valid JSON"),
        (raw_file(None, header_bytes=b"[1, 2]"), "a JSON list, expected an object"),
        (raw_file(None, header_bytes=b"[" * 5000 + b"]" * 5000), "not valid JSON"),
        (raw_file({"__metadata__": {"k": 1}}), "__metadata__ must map strings to strings"),
    ],
)
def test_malformed_headers(blob: bytes, needle: str) -> None:
    refused(blob, needle)


def test_short_read_is_reported() -> None:
    blob = raw_file({"__metadata__": {"a": "b"}})
    with pytest.raises(PackageFormatError, match="file ends inside the header"):
        check_safetensors_header(io.BytesIO(blob[:12]), len(blob), member="m")


def test_check_file_uses_member_name(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(raw_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}))
    with pytest.raises(PackageFormatError, match=r"^soft_prompts/w\.safetensors: invalid"):
        check_safetensors_file(path, member="soft_prompts/w.safetensors")
