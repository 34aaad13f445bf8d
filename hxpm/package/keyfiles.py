"""Ed25519 key files: ``.key`` (secret) and ``.pub`` (public) text (docs/formats/signatures.md).

Split from :mod:`hxpm.package.signing` so that module holds only the cryptography; this one
is file I/O and never imports PyNaCl itself (deriving a key id goes through
:class:`~hxpm.package.signing.SecretKey`). Invariants:

- A secret key file is created once, mode 0600, under 0700 directories that we create, by
  linking a fully written and fsynced temporary file into place: never half-written, never
  overwriting an existing key.
- A secret key file is read only if it is a regular file that group and others cannot read,
  and only in one of two exact formats (hxpm text, or the original tool's raw 32-byte seed).
- Failures are ``UsageError``/``NotFoundError``/``StoreError`` (the user must act) or
  ``SignatureError`` (the file is not a key), raised ``from None``.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from hxpm.errors import HxpmError, NotFoundError, SignatureError, StoreError, UsageError
from hxpm.package.signing import (
    KEY_BYTES,
    MAX_KEY_FILE_BYTES,
    PublicKey,
    SecretKey,
    b64decode_strict,
)

SECRET_KEY_HEADER = "hxpm-secret-key/1"
MAX_KEY_NAME_CHARS = 64
_KEYGEN_HINT = "Create a key with: hxpm key generate --name <publisher>"


def public_key_file_text(key: PublicKey, *, name: str) -> str:
    """The text of a ``.pub`` file: comment lines naming the key, then the key line."""
    _check_key_name(name)
    return f"# hxpm public key: {name}\n# key_id: {key.key_id}\n{key.text}\n"


def write_secret_key(path: Path, key: SecretKey, *, name: str) -> None:
    """Write ``key`` to a new file readable only by its owner (mode 0600).

    The file is written under a temporary name in the same directory, fsynced, then linked
    into place, so a crash never leaves a half-written key and an existing key is never
    replaced. Missing parent directories are created with mode 0700.

    Raises:
        UsageError: ``path`` already exists, or ``name`` is not a valid key name.
        StoreError: the file or its directories could not be written.
    """
    _check_key_name(name)
    text = (
        f"{SECRET_KEY_HEADER}\nname: {name}\nkey_id: {key.public_key.key_id}\n"
        f"seed: {base64.b64encode(key.seed).decode('ascii')}\n"
    )
    if path.exists() or path.is_symlink():
        raise _exists_error(path)
    try:
        _make_private_dirs(path.parent)
        _write_new_private_file(path, text.encode("ascii"))
    except HxpmError:
        raise
    except OSError as exc:
        raise StoreError(
            f"secret key {path}: expected a writable location, got {exc.strerror or exc}"
        ) from None


def _check_key_name(name: object) -> None:
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= MAX_KEY_NAME_CHARS
        and name.isprintable()
        and name == name.strip()
    )
    if not ok:
        raise UsageError(
            f"key name: expected 1-{MAX_KEY_NAME_CHARS} printable characters without "
            f"surrounding spaces, got {name!r}"
        )


def _exists_error(path: Path) -> UsageError:
    return UsageError(
        f"secret key {path}: expected a new file, got an existing one",
        hint="hxpm never overwrites a key; choose another path or move the old key away first.",
    )


def _make_private_dirs(directory: Path) -> None:
    # Create only what is missing, each level 0700; directories that already exist are the
    # user's and are left as they are.
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)  # mkdir's mode is filtered by the umask


def _write_new_private_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # the umask may only remove bits, but make it explicit
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        _link_no_clobber(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _link_no_clobber(tmp: Path, path: Path) -> None:
    # os.link fails if the target exists, unlike os.replace, so two concurrent
    # `key generate` runs cannot overwrite each other. Filesystems without hard links fall
    # back to check-then-replace.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:
        if path.exists() or path.is_symlink():
            raise _exists_error(path) from None
        os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not supported everywhere (e.g. Windows); the data itself is already synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_secret_key(path: Path) -> SecretKey:
    """Read a secret key file: hxpm's text format or the original tool's raw 32-byte seed.

    Like ssh, a key file that its group or others may read is refused.

    Raises:
        NotFoundError: there is no file at ``path``.
        UsageError: the file is readable by group or others (hint: ``chmod 600``).
        StoreError: the file could not be read.
        SignatureError: the file is not a secret key in either format.
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise SignatureError(f"secret key {path}: expected a regular file, got another kind")
        if os.name == "posix" and mode & 0o077:
            raise UsageError(
                f"secret key {path}: expected mode 0600 (owner only), got {stat.S_IMODE(mode):04o}",
                hint=f"Protect the key with: chmod 600 {path}",
            )
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise NotFoundError(
            f"secret key {path}: expected a key file, got none", hint=_KEYGEN_HINT
        ) from None
    except OSError as exc:
        raise StoreError(
            f"secret key {path}: expected a readable file, got {exc.strerror or exc}"
        ) from None
    return _parse_secret_key(data, path)


def _parse_secret_key(data: bytes, path: Path) -> SecretKey:
    # Our format is always longer than 32 bytes, so exactly 32 bytes means a legacy seed.
    if len(data) == KEY_BYTES:
        return SecretKey(data)
    bad = SignatureError(
        f"secret key {path}: expected '{SECRET_KEY_HEADER}' text or a raw 32-byte seed, "
        f"got {len(data)} bytes of something else",
        hint=_KEYGEN_HINT,
    )
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise bad from None
    if len(data) > MAX_KEY_FILE_BYTES or len(lines) != 5 or lines[0] != SECRET_KEY_HEADER:
        raise bad
    fields: dict[str, str] = {}
    for line in lines[1:4]:
        label, _, value = line.partition(": ")
        fields[label] = value
    if list(fields) != ["name", "key_id", "seed"] or lines[4] != "":
        raise bad
    seed = b64decode_strict(fields["seed"])
    if seed is None or len(seed) != KEY_BYTES:
        raise bad
    key = SecretKey(seed)
    if key.public_key.key_id != fields["key_id"]:
        raise SignatureError(
            f"secret key {path}: expected key_id {key.public_key.key_id} for its seed, "
            f"got {fields['key_id']!r} (the file is damaged)"
        )
    return key
