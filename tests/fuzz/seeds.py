"""Real starting inputs for each fuzz target, and the mutations applied to them.

Seeds are files nobody on this project wrote (the older ecosystem's manifests, real PEFT
adapter configs) plus what hxpm itself writes for real (a built package, a signature and an
index line with a real Ed25519 signature, a lock file, a safetensors file).
"""

from __future__ import annotations

import io
import json
import re
import struct
import tempfile
from functools import cache, lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"

# Values that broke or could break readers: numbers past a float or 64 bits, past Python's
# 4300-digit int() limit, constants JSON does not have, and long or odd version strings.
INTERESTING: tuple[bytes, ...] = (
    b"1" + b"0" * 400,
    b"1e400",
    b"-1e400",
    b"NaN",
    b"-Infinity",
    b"18446744073709551616",
    b"9" * 5000,
    b"-0",
    b"0.5",
    b"1e-400",
    b"true",
    b"null",
    b'""',
    b"[]",
    b"{}",
    b'"1.' + b"1" * 300 + b'"',
    b'"\\ud800"',
    b'"\\u001b]0;x\\u0007"',
    b"[" * 200,
    b'">=1.0.0,<2.0.0"',
    b'"^0.0.' + b"9" * 251 + b'"',
    b'"1.0.0+build.5"',
    b"-1",
)
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_KEY = re.compile(rb'"[A-Za-z_]+"\s*:')


def _json_files(*roots: Path) -> list[bytes]:
    return [
        p.read_bytes()
        for root in roots
        for p in sorted(root.rglob("*.json"))
        if p.stat().st_size < 200_000
    ]


@lru_cache(maxsize=1)
def _built() -> dict[str, list[bytes]]:
    """What hxpm writes, made once per process: package, signature, line, lock, tensors."""
    from hxpm.package.build import build_packages
    from tests.factories import make_expert_dir, write_safetensors
    from tests.unit.index import KEY, line_text, signature

    with tempfile.TemporaryDirectory(prefix="hxpm-fuzz-seeds-") as tmp:
        src = make_expert_dir(Path(tmp) / "src", "expert-seed", "1.0.0")
        package = build_packages(src, Path(tmp) / "dist")[0].path.read_bytes()
        tensors = Path(tmp) / "t.safetensors"
        write_safetensors(tensors, {"a": ("F32", [2, 3]), "b": ("F16", [4])})
        tensor_bytes = tensors.read_bytes()
    line = line_text(requires=["expert-json@>=0.4"]).encode()
    lock = json.dumps(
        {
            "format": "hxpm-lock/1",
            "generated_by": "hxpm fuzz",
            "base_model": "Qwen/Qwen3-0.6B",
            "base_sha256": None,
            "roots": ["expert-sql@^0.3"],
            "experts": [{"index": "main", "requested": True, "line": json.loads(line)}],
        },
        indent=2,
    ).encode()
    sig = signature("expert-sql", "0.3.0").encode()
    key = KEY.public_key.text.encode()
    import zstandard

    tar = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(package)).read()
    return {
        "package": [package],
        "package_tar": [tar],
        "safetensors_header": [tensor_bytes, _header_only()],
        "index_line": [line],
        "lock_file": [lock],
        "signature": [sig],
        "public_key": [
            key,
            b"ed25519:" + KEY.public_key.raw.hex().encode(),
            b"# comment\n" + key + b"\n",
        ],
    }


def _header_only() -> bytes:
    head = (
        b'{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}'
    )
    return struct.pack("<Q", len(head)) + head + b"\0" * 8


@cache
def seeds(target: str) -> tuple[bytes, ...]:
    manifests = _json_files(
        FIXTURES / "original-ecosystem" / "manifests", FIXTURES / "legacy-dialect"
    )
    configs = _json_files(FIXTURES / "peft-adapter-configs")
    built = _built()
    by_target: dict[str, list[bytes]] = {
        "manifest": manifests,
        "requirement": [
            b"expert-sql",
            b"expert-sql@^1.2",
            b"expert-sql@>=1.0,<2.0",
            b"english-legacy<=0.9.0",
            b"github.com/u/expert-json@>=0.4",
            b"1.0.0-rc.1+build.5",
            b"~1.2",
            b"*",
        ],
        "adapter_config": configs,
        "strict_json": manifests + configs + built["lock_file"] + built["index_line"],
        **built,
    }
    found = sorted((REGRESSIONS / target).glob("*")) if (REGRESSIONS / target).is_dir() else []
    return tuple(by_target[target]) + tuple(p.read_bytes() for p in found)


def mutate(data: bytes, choices: list[int]) -> bytes:
    """Apply mutations to ``data``, driven by ``choices`` (from hypothesis or a RNG)."""
    out = bytearray(data)
    it = iter(choices)

    def pick(n: int) -> int:
        return next(it, 0) % max(n, 1)

    for _ in range(pick(6) + 1):
        op = pick(8)
        pos = pick(len(out) + 1)
        if op == 0 and out:  # flip a byte
            out[min(pos, len(out) - 1)] ^= 1 << pick(8)
        elif op == 1:  # insert an interesting value
            out[pos:pos] = INTERESTING[pick(len(INTERESTING))]
        elif op == 2:  # delete a run
            del out[pos : pos + pick(64) + 1]
        elif op == 3:  # truncate
            del out[pos:]
        elif op in (4, 5):  # replace a JSON number with an interesting value
            spans = [m.span() for m in _NUMBER.finditer(out)]
            if spans:
                a, b = spans[pick(len(spans))]
                out[a:b] = INTERESTING[pick(len(INTERESTING))]
        elif op == 6:  # repeat a key (same value follows)
            spans = [m.span() for m in _KEY.finditer(out)]
            if spans:
                a, b = spans[pick(len(spans))]
                out[b:b] = b" 1, " + bytes(out[a:b])
        else:  # wrap a value in deep nesting
            depth = pick(300)
            out[pos:pos] = b"[" * depth
            out[pos + depth : pos + depth] = b"]" * depth
    return bytes(out)


def as_stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
