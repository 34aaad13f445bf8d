"""SHA-256 helpers: file digests, tree digests (Go's dirhash idea) and base-model digests."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1 << 20
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and HEX64_RE.fullmatch(value) is not None


def digests_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def tree_digest(entries: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the sorted lines ``"<sha256 hex>  <path>\\n"`` of (path, sha256) pairs."""
    h = hashlib.sha256()
    for path, digest in sorted(entries):
        h.update(f"{digest}  {path}\n".encode())
    return h.hexdigest()


def base_model_files(model_dir: Path) -> list[Path]:
    """Files that define a base model's identity: ``config.json`` and every ``*.safetensors``."""
    files = [p for p in model_dir.rglob("*.safetensors") if p.is_file()]
    config = model_dir / "config.json"
    if config.is_file():
        files.append(config)
    return sorted(files)


def base_model_digest(model_dir: Path) -> str:
    """Base digest (docs/architecture.md §6) of a Hugging Face-format model directory."""
    entries = [
        (p.relative_to(model_dir).as_posix(), sha256_file(p)) for p in base_model_files(model_dir)
    ]
    return tree_digest(entries)
