"""The fuzz targets: each feeds bytes to one reader of untrusted input.

A target passes when the reader returns or raises hxpm's own error family (``HxpmError``,
and the strict JSON reader's ``JsonError`` for the reader itself). Any other exception
(OverflowError, RecursionError, TypeError, a bare ValueError, ...) is a bug: it would reach
the user as a traceback.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

from hxpm.core.adapter_config import AdapterConfigError, parse_adapter_config
from hxpm.core.manifest import Manifest
from hxpm.core.strictjson import JsonError, read_json
from hxpm.core.versions import Version, parse_requirement, parse_spec
from hxpm.errors import HxpmError
from hxpm.index.model import VersionLine
from hxpm.package.reader import read_package
from hxpm.package.safetensors_check import check_safetensors_header
from hxpm.package.signing import parse_public_key, parse_signature_file

Target = Callable[[bytes], object]
EXPECTED: tuple[type[Exception], ...] = (HxpmError, JsonError)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def manifest(data: bytes) -> object:
    return Manifest.from_bytes(data, source="fuzz/manifest.json")


def requirement(data: bytes) -> object:
    text = _text(data)
    for parse in (parse_requirement, Version.parse, parse_spec):
        with contextlib.suppress(HxpmError):
            parse(text)
    return None


def index_line(data: bytes) -> object:
    return VersionLine.parse(data, where="fuzz line 1")


def lock_file(data: bytes) -> object:
    from hxpm.services.lockfile import read_lock

    with tempfile.TemporaryDirectory(prefix="hxpm-fuzz-") as tmp:
        path = Path(tmp) / "hxpm.lock"
        path.write_bytes(data)
        return read_lock(path)


def signature(data: bytes) -> object:
    return parse_signature_file(data)


def public_key(data: bytes) -> object:
    return parse_public_key(_text(data))


def safetensors_header(data: bytes) -> object:
    return check_safetensors_header(io.BytesIO(data), len(data), member="fuzz.safetensors")


def adapter_config(data: bytes) -> object:
    return parse_adapter_config(data)


def package(data: bytes) -> object:
    with tempfile.TemporaryDirectory(prefix="hxpm-fuzz-") as tmp:
        path = Path(tmp) / "fuzz.expert"
        path.write_bytes(data)
        stage = Path(tmp) / "stage"
        stage.mkdir()
        return read_package(path, extract_to=stage)


def package_tar(data: bytes) -> object:
    """The tar inside a package: compressed here, so mutations reach the member checks."""
    import zstandard

    return package(zstandard.ZstdCompressor(level=1).compress(data))


def strict_json(data: bytes) -> object:
    return read_json(data, max_bytes=1 << 20)


TARGETS: dict[str, Target] = {
    "manifest": manifest,
    "requirement": requirement,
    "index_line": index_line,
    "lock_file": lock_file,
    "signature": signature,
    "public_key": public_key,
    "safetensors_header": safetensors_header,
    "adapter_config": adapter_config,
    "package": package,
    "package_tar": package_tar,
    "strict_json": strict_json,
}


# A reader whose contract is its own domain error (its callers turn it into an HxpmError).
OWN_ERRORS: dict[str, tuple[type[Exception], ...]] = {"adapter_config": (AdapterConfigError,)}


def run_one(name: str, data: bytes) -> None:
    """Run target ``name`` on ``data``; re-raise only what is not hxpm's own error."""
    try:
        TARGETS[name](data)
    except EXPECTED + OWN_ERRORS.get(name, ()):
        pass
