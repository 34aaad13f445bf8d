"""Header-only safetensors validation, without torch (docs/architecture.md §3).

A safetensors file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the
data section. The JSON maps tensor names to ``{"dtype", "shape", "data_offsets": [start, end]}``
(offsets relative to the data section) plus an optional ``"__metadata__"`` str->str map.

We check what a loader trusts: the header fits the file, every dtype is known, every byte
range matches ``prod(shape) * dtype size``, and the ranges tile the data section exactly (no
overlap, no gap, nothing past the end). A file that passes can be mapped by any safetensors
loader without reading outside its tensors.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import PackageFormatError

MAX_HEADER_SIZE = 100 * (1 << 20)
METADATA_KEY = "__metadata__"
_MAX_ELEMENTS = 1 << 72  # more elements than any file's bytes can hold, even at 4 bits

# Bits per element (sub-byte float formats included, as in safetensors >= 0.6).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U16": 16,
    "I16": 16,
    "F16": 16,
    "BF16": 16,
    "U32": 32,
    "I32": 32,
    "F32": 32,
    "U64": 64,
    "I64": 64,
    "F64": 64,
    "C64": 64,
}


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor entry of a checked header; offsets are relative to the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SafetensorsHeader:
    """A validated header: sizes, tensors sorted by offset, and metadata pairs."""

    header_size: int
    data_size: int
    tensors: tuple[TensorInfo, ...]
    metadata: tuple[tuple[str, str], ...]


def _fail(member: str, what: str) -> PackageFormatError:
    return PackageFormatError(f"{member}: invalid safetensors: {what}")


def _read_exact(read: Callable[[int], bytes], n: int, member: str, what: str) -> bytes:
    data = read(n)
    if len(data) != n:
        raise _fail(member, f"file ends inside the {what} ({len(data)} of {n} bytes)")
    return data


def _parse_header_json(raw: bytes, member: str) -> dict[str, Any]:
    # A repeated tensor name is refused (a loader could use the copy we did not check).
    try:
        header = read_json(raw, max_bytes=MAX_HEADER_SIZE, max_depth=4)
    except JsonError as exc:
        what = exc.reason if exc.reason.startswith("not ") else f"not valid JSON: {exc}"
        raise _fail(member, f"header is {what}") from None
    if not isinstance(header, dict):
        raise _fail(member, f"header is a JSON {type(header).__name__}, expected an object")
    return header


def _check_metadata(value: object, member: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(member, "__metadata__ must map strings to strings")
    return tuple(sorted(value.items()))


def _check_tensor(name: str, entry: object, data_size: int, member: str) -> TensorInfo:
    where = f"tensor {name!r}"
    if not isinstance(entry, dict):
        raise _fail(member, f"{where}: entry is not an object")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise _fail(member, f"{where}: unknown dtype {dtype!r}")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _fail(
            member, f"{where}: shape {_short_shape(shape)} is not a list of non-negative integers"
        )
    offsets = entry.get("data_offsets")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise _fail(member, f"{where}: data_offsets {_short_shape(offsets)} is not [start, end]")
    start, end = offsets
    if not 0 <= start <= end <= data_size:
        raise _fail(
            member,
            f"{where}: header says offsets [{start}, {end}] for a {data_size}-byte data section",
        )
    elements = 0 if 0 in shape else 1
    for dim in shape if elements else ():
        elements *= dim
        if elements > _MAX_ELEMENTS:  # already too big for the data: keep the numbers small
            break
    bits = elements * DTYPE_BITS[dtype]
    if bits % 8 or end - start != bits // 8:
        # Integer arithmetic only: a shape like [10**19, 10**19] overflows a float.
        needs = f"{bits // 8}{str(bits % 8 / 8)[1:] if bits % 8 else ''} bytes"
        raise _fail(
            member,
            f"{where}: shape {_short_shape(shape)} of {dtype} needs {needs}, "
            f"offsets [{start}, {end}] hold {end - start}",
        )
    return TensorInfo(name, dtype, tuple(shape), start, end)


def _short_shape(shape: object) -> str:
    text = repr(shape)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_tiling(tensors: list[TensorInfo], data_size: int, member: str) -> None:
    position = 0
    for info in tensors:
        if info.start < position:
            raise _fail(
                member,
                f"tensor {info.name!r}: offsets [{info.start}, {info.end}] "
                f"overlap the previous tensor (ends at {position})",
            )
        if info.start > position:
            raise _fail(
                member,
                f"bytes [{position}, {info.start}] of the data section belong "
                f"to no tensor (gap before {info.name!r})",
            )
        position = info.end
    if position != data_size:
        raise _fail(member, f"tensors cover {position} bytes of a {data_size}-byte data section")


def check_safetensors_header(
    read: Callable[[int], bytes] | BinaryIO, total_size: int, *, member: str
) -> SafetensorsHeader:
    """Validate a safetensors header, reading only the first ``8 + N`` bytes.

    Args:
        read: ``read(n)`` returning the next ``n`` bytes (or a binary file object); it is
            called exactly twice, for the length prefix and for the header.
        total_size: size of the whole file in bytes.
        member: the file's name, used in error messages.

    Raises:
        PackageFormatError: the header is malformed or its offsets do not describe the data
            section exactly; the message names the member, the tensor and the problem.
    """
    reader: Callable[[int], bytes] = read.read if hasattr(read, "read") else read
    if total_size < 8:
        raise _fail(member, f"file is {total_size} bytes, too short for the 8-byte header length")
    (header_size,) = struct.unpack("<Q", _read_exact(reader, 8, member, "header length"))
    if header_size > MAX_HEADER_SIZE or header_size > total_size - 8:
        raise _fail(
            member,
            f"header length {header_size} exceeds the file "
            f"({total_size} bytes) or the {MAX_HEADER_SIZE}-byte cap",
        )
    raw = _read_exact(reader, header_size, member, "header")
    header = _parse_header_json(raw, member)
    data_size = total_size - 8 - header_size
    metadata = _check_metadata(header.pop(METADATA_KEY), member) if METADATA_KEY in header else ()
    tensors = [_check_tensor(name, entry, data_size, member) for name, entry in header.items()]
    tensors.sort(key=lambda t: (t.start, t.end))
    _check_tiling(tensors, data_size, member)
    return SafetensorsHeader(header_size, data_size, tuple(tensors), metadata)


def check_safetensors_file(path: Path, *, member: str | None = None) -> SafetensorsHeader:
    """Validate the header of the safetensors file at ``path``.

    Raises:
        PackageFormatError: the header is invalid (see :func:`check_safetensors_header`).
        OSError: the file cannot be opened or read.
    """
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        return check_safetensors_header(f, size, member=member or path.name)
