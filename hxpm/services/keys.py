"""The publisher's side: generate a signing key, show it, sign a package."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hxpm.errors import NotFoundError, UsageError
from hxpm.package.keyfiles import read_secret_key, write_secret_key
from hxpm.package.reader import read_package
from hxpm.package.signing import (
    PublicKey,
    SecretKey,
    generate_secret_key,
    sign_statement,
)
from hxpm.store.fsutil import atomic_write_bytes
from hxpm.store.paths import user_key_dir
from hxpm.trust import PackageFacts, statement_for

_KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    secret_path: Path
    public_path: Path
    public_key: PublicKey


def key_paths(name: str) -> tuple[Path, Path]:
    if not _KEY_NAME_RE.fullmatch(name):
        raise UsageError(f"key name: expected letters, digits, '.', '_' or '-', got {name!r}")
    d = user_key_dir()
    return d / f"{name}.key", d / f"{name}.pub"


def generate_key(name: str = "default") -> KeyInfo:
    secret_path, public_path = key_paths(name)
    key = generate_secret_key()
    write_secret_key(secret_path, key, name=name)
    atomic_write_bytes(public_path, (key.public_key.text + "\n").encode())
    return KeyInfo(name, secret_path, public_path, key.public_key)


def load_key(name: str = "default", path: Path | None = None) -> tuple[SecretKey, Path]:
    secret_path = path.expanduser() if path else key_paths(name)[0]
    if not secret_path.is_file():
        raise NotFoundError(f"no secret key at {secret_path}",
                            hint="Create one with `hxpm key generate`, or pass --key FILE.")
    return read_secret_key(secret_path), secret_path


def show_key(name: str = "default", path: Path | None = None) -> KeyInfo:
    key, secret_path = load_key(name, path)
    return KeyInfo(name, secret_path, secret_path.with_suffix(".pub"), key.public_key)


@dataclass(frozen=True, slots=True)
class SignResult:
    package: Path
    signature_path: Path
    key_id: str
    facts: PackageFacts


def sign_package(package: Path, *, key_name: str = "default", key_path: Path | None = None,
                 output: Path | None = None) -> SignResult:
    """Read the package (hashing every member), then write ``PKG.sig``."""
    key, _ = load_key(key_name, key_path)
    package = package.expanduser().resolve()
    if not package.is_file():
        raise NotFoundError(f"no package file at {package}")
    contents = read_package(package)
    variant = contents.manifest.variants[0]
    m = contents.manifest
    facts = PackageFacts(m.name, str(m.version), variant.name, variant.sha256,
                         contents.tree_sha256, contents.sha256)
    text = sign_statement(statement_for(facts, key), key)
    sig_path = output or package.with_name(package.name + ".sig")
    atomic_write_bytes(sig_path, text.encode())
    return SignResult(package, sig_path, key.public_key.key_id, facts)
