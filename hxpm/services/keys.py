"""The publisher's side: generate a signing key, list and show keys, sign a package.

Without a name, commands use the key called ``default``, else the only key there is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hxpm.errors import HxpmError, NotFoundError, UsageError
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
from hxpm.trust_policy import PackageFacts, statement_for

_KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_KEY = "default"


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


def generate_key(name: str = DEFAULT_KEY) -> KeyInfo:
    secret_path, public_path = key_paths(name)
    key = generate_secret_key()
    write_secret_key(secret_path, key, name=name)
    atomic_write_bytes(public_path, (key.public_key.text + "\n").encode())
    return KeyInfo(name, secret_path, public_path, key.public_key)


@dataclass(frozen=True, slots=True)
class ListedKey:
    name: str
    secret_path: Path
    public_key: PublicKey | None  # None when the file cannot be read as a key
    is_default: bool  # what `hxpm sign` and `hxpm key show` use without a name
    problem: str | None = None


def _key_names() -> list[str]:
    d = user_key_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.key") if _KEY_NAME_RE.fullmatch(p.stem))


def default_key_name() -> str:
    """``default`` if that key exists, else the only key, whatever its name.

    Raises:
        NotFoundError: there is no key, or several and none is called ``default``.
    """
    names = _key_names()
    if DEFAULT_KEY in names:
        return DEFAULT_KEY
    if len(names) == 1:
        return names[0]
    where = user_key_dir()
    if not names:
        raise NotFoundError(
            f"no secret key in {where}",
            hint="Create one with `hxpm key generate --name NAME`, or pass --key FILE.",
        )
    raise NotFoundError(
        f"{len(names)} secret keys in {where} ({', '.join(names)}) and none is named "
        f"{DEFAULT_KEY!r}: say which to use",
        hint="Pass the key's name (`hxpm sign --key-name NAME`, `hxpm key show --name NAME`); "
        "see them with `hxpm key list`.",
        details={"keys": names},
    )


def list_keys() -> list[ListedKey]:
    """Every secret key in your key directory, each read to show its key id."""
    names = _key_names()
    try:
        default: str | None = default_key_name()
    except NotFoundError:
        default = None
    out = []
    for name in names:
        path = key_paths(name)[0]
        try:
            public: PublicKey | None = read_secret_key(path).public_key
            problem = None
        except HxpmError as e:
            public, problem = None, e.message
        out.append(ListedKey(name, path, public, name == default, problem))
    return out


def load_key(name: str | None = None, path: Path | None = None) -> tuple[SecretKey, Path]:
    """The key at ``path``, else the one called ``name``, else the default (see above)."""
    secret_path = path.expanduser() if path else key_paths(name or default_key_name())[0]
    if not secret_path.is_file():
        known = ", ".join(_key_names()) or "none"
        raise NotFoundError(
            f"no secret key at {secret_path} (your keys: {known})",
            hint="Create one with `hxpm key generate --name NAME`, or pass --key FILE.",
        )
    return read_secret_key(secret_path), secret_path


def show_key(name: str | None = None, path: Path | None = None) -> KeyInfo:
    key, secret_path = load_key(name, path)
    return KeyInfo(secret_path.stem, secret_path, secret_path.with_suffix(".pub"), key.public_key)


@dataclass(frozen=True, slots=True)
class SignResult:
    package: Path
    signature_path: Path
    key_id: str
    facts: PackageFacts


def sign_package(
    package: Path,
    *,
    key_name: str | None = None,
    key_path: Path | None = None,
    output: Path | None = None,
) -> SignResult:
    """Read the package (hashing every member), then write ``PKG.sig``."""
    key, _ = load_key(key_name, key_path)
    package = package.expanduser().resolve()
    if not package.is_file():
        raise NotFoundError(f"no package file at {package}")
    contents = read_package(package)
    variant = contents.manifest.variants[0]
    m = contents.manifest
    facts = PackageFacts(
        m.name, str(m.version), variant.name, variant.sha256, contents.tree_sha256, contents.sha256
    )
    text = sign_statement(statement_for(facts, key), key)
    sig_path = output or package.with_name(package.name + ".sig")
    atomic_write_bytes(sig_path, text.encode())
    return SignResult(package, sig_path, key.public_key.key_id, facts)
