"""Sparse HTTP indexes: URLs and the signed snapshot (docs/formats/sparse-index.md).

A sparse index is the Git index's tree served as static files, plus ``snapshot.json``: the
index's Git commit, a ``serial`` that only grows, an expiry time and the SHA-256 of every
file, signed with Ed25519. hxpm checks each fetched file against the snapshot it accepted,
so a mirror cannot mix files of different snapshots, serve an old snapshot again (the serial)
or keep serving one forever (the expiry). Pure values and parsing, no I/O.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from hxpm.core.digest import is_sha256_hex
from hxpm.core.names import is_valid_name
from hxpm.core.redact import strip_url_credentials
from hxpm.errors import (
    HxpmError,
    IndexDataError,
    IntegrityError,
    RollbackError,
    UntrustedKeyError,
    UsageError,
)
from hxpm.index import model_checks as ck
from hxpm.index.model import shard_path
from hxpm.package.signing import (
    KEY_ID_RE,
    KEY_PREFIX,
    SIGNATURE_BYTES,
    TIMESTAMP_FORMAT,
    PublicKey,
    SecretKey,
    b64decode_strict,
    is_utc_timestamp,
    parse_public_key,
    sign_document,
    utc_timestamp,
    verify_document,
)

SPARSE_PREFIX = "sparse+"
SNAPSHOT_FORMAT = "hxpm-sparse-snapshot/1"
SNAPSHOT_FILE = "snapshot.json"
CONFIG_FILE = "config.json"
MAX_SNAPSHOT_BYTES = 64 << 20  # ~90 bytes per expert: room for ~700k experts
MAX_SIGNATURES = 8
MAX_SERIAL = (1 << 63) - 1
SNAPSHOT_KEYS_FIELD = "snapshot_keys"  # in config.json: the public keys that sign snapshots
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_LOOPBACK_NAMES = ("localhost",)
URL_HINT = (
    "Write sparse+https://host/path/ (plain sparse+http:// only for 127.0.0.1, ::1 or localhost)."
)


# --- URLs ------------------------------------------------------------------------------------


def is_sparse_url(text: str) -> bool:
    return text.startswith(SPARSE_PREFIX)


@dataclass(frozen=True, slots=True)
class SparseURL:
    """A validated sparse index URL.

    Attributes:
        url: What the store keeps and messages show: ``sparse+https://host/path/``, without
            credentials, always ending in ``/``.
        base: The plain ``https://`` URL files are fetched under; it keeps any
            ``user:password@`` the text carried, for this call only.
    """

    url: str
    base: str = field(repr=False, compare=False)

    def file_url(self, path: str) -> str:
        return self.base + path


def normalise_sparse_url(text: str) -> SparseURL:
    """Check ``sparse+https://host/path/`` (or ``sparse+http://`` to a loopback host).

    Raises:
        UsageError: not that form, a query or fragment, or plain http to another host.
    """
    shown = strip_url_credentials(text)
    if not is_sparse_url(text) or len(text) > 2048 or any(c.isspace() for c in text):
        raise UsageError(
            f"sparse index URL: expected sparse+https://host/path/, got {shown!r}", hint=URL_HINT
        )
    plain = text[len(SPARSE_PREFIX) :]
    try:
        parts = urlsplit(plain)
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        raise UsageError(f"sparse index URL: malformed, got {shown!r}", hint=URL_HINT) from None
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "#" in plain
        or "?" in plain
    ):
        raise UsageError(
            f"sparse index URL: expected sparse+https://host/path/ without a "
            f"query or fragment, got {shown!r}",
            hint=URL_HINT,
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UsageError(
            f"sparse index URL: plain http is accepted for loopback hosts only, got {shown!r}",
            hint="Serve the index over https (signatures protect integrity, not privacy or "
            "freshness against a network attacker).",
        )
    base = plain if plain.endswith("/") else plain + "/"
    return SparseURL(url=SPARSE_PREFIX + strip_url_credentials(base), base=base)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- paths -----------------------------------------------------------------------------------


def expert_of_path(path: str) -> str | None:
    """The expert name whose file ``path`` is, or None (config.json, or not a shard path)."""
    name = path.rsplit("/", 1)[-1]
    if not is_valid_name(name):
        return None
    return name if shard_path(name) == path else None


def _check_path(path: object, where: str) -> str:
    if path == CONFIG_FILE or (isinstance(path, str) and expert_of_path(path) is not None):
        return str(path)
    raise ck.bad(
        f"files[{path!r}]",
        path,
        "config.json or an expert file's shard path (experts/ex/pe/expert-sql)",
        where=where,
    )


# --- the snapshot ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The signed part of ``snapshot.json``."""

    index: str
    serial: int
    commit: str
    expires: str  # YYYY-MM-DDTHH:MM:SSZ
    files: Mapping[str, str] = field(repr=False)  # path -> sha256 hex

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "index": self.index,
            "serial": self.serial,
            "commit": self.commit,
            "expires": self.expires,
            "files": dict(self.files),
        }

    def canonical_bytes(self) -> bytes:
        """The exact bytes signatures cover: sorted keys, no spaces, ASCII."""
        return _canonical(self.to_dict())

    def expired(self, now: datetime | None = None) -> bool:
        expiry = datetime.strptime(self.expires, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) >= expiry

    def hash_of(self, path: str) -> str | None:
        return self.files.get(path)


@dataclass(frozen=True, slots=True)
class SignedSnapshot:
    snapshot: Snapshot
    signatures: tuple[tuple[str, bytes], ...]  # (key id, raw signature)
    raw: bytes = field(repr=False)  # the file as served


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_snapshot(snapshot: Snapshot, keys: Sequence[SecretKey]) -> bytes:
    """``snapshot.json``'s bytes: the snapshot and one signature per key."""
    data = snapshot.canonical_bytes()
    sigs = [
        {"key_id": k.public_key.key_id, "signature": KEY_PREFIX + _b64(sign_document(data, k))}
        for k in keys
    ]
    return (
        json.dumps({"signed": snapshot.to_dict(), "signatures": sigs}, indent=1, sort_keys=True)
        + "\n"
    ).encode()


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode("ascii")


def new_snapshot(
    index: str, serial: int, commit: str, expires: datetime, files: Mapping[str, bytes]
) -> Snapshot:
    """A snapshot listing the SHA-256 of each of ``files`` (path -> bytes)."""
    hashes = {p: hashlib.sha256(data).hexdigest() for p, data in sorted(files.items())}
    return _snapshot_from_doc(
        {
            "format": SNAPSHOT_FORMAT,
            "index": index,
            "serial": serial,
            "commit": commit,
            "expires": utc_timestamp(expires),
            "files": hashes,
        },
        "new snapshot",
    )


def parse_snapshot(data: bytes, *, where: str) -> SignedSnapshot:
    """Parse ``snapshot.json`` strictly; signatures are checked by :func:`verify_snapshot`.

    Raises:
        IndexDataError: too big, not JSON, or a field missing or malformed.
    """
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise ck.bad(
            "",
            f"{len(data)} bytes",
            f"a snapshot of at most {MAX_SNAPSHOT_BYTES} bytes",
            where=where,
        )
    doc = ck.decode_object(data, where, "a sparse index snapshot")
    if set(doc) != {"signed", "signatures"}:
        raise ck.bad(
            "", sorted(doc), "an object with exactly 'signed' and 'signatures'", where=where
        )
    sigs = doc["signatures"]
    if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
        raise ck.bad("signatures", sigs, f"a list of 1-{MAX_SIGNATURES} signatures", where=where)
    return SignedSnapshot(
        _snapshot_from_doc(doc["signed"], where),
        tuple(_signature(s, i, where) for i, s in enumerate(sigs)),
        data,
    )


def _signature(entry: object, i: int, where: str) -> tuple[str, bytes]:
    if not isinstance(entry, dict) or set(entry) != {"key_id", "signature"}:
        raise ck.bad(
            f"signatures[{i}]", entry, "an object with 'key_id' and 'signature'", where=where
        )
    key_id, text = entry["key_id"], entry["signature"]
    if not isinstance(key_id, str) or not KEY_ID_RE.fullmatch(key_id):
        raise ck.bad(f"signatures[{i}].key_id", key_id, "16 lower-case hex digits", where=where)
    raw = (
        b64decode_strict(text[len(KEY_PREFIX) :])
        if isinstance(text, str) and text.startswith(KEY_PREFIX)
        else None
    )
    if raw is None or len(raw) != SIGNATURE_BYTES:
        raise ck.bad(
            f"signatures[{i}].signature",
            text,
            f"'ed25519:<base64 of {SIGNATURE_BYTES} bytes>'",
            where=where,
        )
    return key_id, raw


def _snapshot_from_doc(doc: object, where: str) -> Snapshot:
    if not isinstance(doc, dict):
        raise ck.bad("signed", doc, "the snapshot as a JSON object", where=where)
    if doc.get("format") != SNAPSHOT_FORMAT:
        raise ck.bad("signed.format", doc.get("format"), repr(SNAPSHOT_FORMAT), where=where)
    extra = set(doc) - {"format", "index", "serial", "commit", "expires", "files"}
    if extra:  # unknown fields would be signed but ignored: refuse rather than guess
        raise ck.bad(
            "signed",
            sorted(extra),
            "no fields but format, index, serial, commit, expires and files",
            where=where,
        )
    index, serial, commit = doc.get("index"), doc.get("serial"), doc.get("commit")
    if not isinstance(index, str) or not ck.is_printable_text(index, 64):
        raise ck.bad(
            "signed.index", index, "the index name (1-64 printable characters)", where=where
        )
    if type(serial) is not int or not 0 <= serial <= MAX_SERIAL:
        raise ck.bad("signed.serial", serial, "a whole number from 0 to 2^63-1", where=where)
    if not isinstance(commit, str) or not _COMMIT_RE.fullmatch(commit):
        raise ck.bad(
            "signed.commit", commit, "a Git commit (40 lower-case hex digits)", where=where
        )
    if not is_utc_timestamp(doc.get("expires")):
        raise ck.bad(
            "signed.expires", doc.get("expires"), "a UTC time YYYY-MM-DDTHH:MM:SSZ", where=where
        )
    files = doc.get("files")
    if not isinstance(files, dict) or CONFIG_FILE not in files:
        raise ck.bad(
            "signed.files",
            "missing" if files is None else type(files).__name__,
            "an object mapping every file (config.json included) to its SHA-256",
            where=where,
        )
    for path, digest in files.items():
        _check_path(path, where)
        if not is_sha256_hex(digest):
            raise ck.bad(f"signed.files[{path!r}]", digest, "64 lower-case hex digits", where=where)
    return Snapshot(index, serial, commit, doc["expires"], dict(files))


# --- verification ----------------------------------------------------------------------------


def snapshot_keys_of(config_raw: Mapping[str, Any], *, where: str) -> tuple[PublicKey, ...]:
    """The keys ``config.json`` names in ``snapshot_keys`` (may be empty).

    Raises:
        IndexDataError: the field is not a list of public keys.
    """
    value = config_raw.get(SNAPSHOT_KEYS_FIELD, [])
    if not isinstance(value, list) or len(value) > MAX_SIGNATURES:
        raise ck.bad(
            SNAPSHOT_KEYS_FIELD,
            value,
            f"a list of at most {MAX_SIGNATURES} Ed25519 public keys",
            where=where,
        )
    keys = []
    for i, text in enumerate(value):
        try:
            keys.append(parse_public_key(text if isinstance(text, str) else ""))
        except HxpmError:
            raise ck.bad(
                f"{SNAPSHOT_KEYS_FIELD}[{i}]", text, "'ed25519:<base64 of 32 bytes>'", where=where
            ) from None
    return tuple(keys)


def verify_snapshot(
    signed: SignedSnapshot, trusted: Sequence[PublicKey], *, index: str, now: datetime | None = None
) -> Snapshot:
    """Accept ``signed`` if a key in ``trusted`` signed it and it has not expired.

    Raises:
        UntrustedKeyError: no signature is by a trusted key.
        SignatureError: a trusted key's signature does not verify.
        IndexDataError: the snapshot has expired (``details.reason`` ``expired``).
    """
    by_id = {k.key_id: k for k in trusted}
    ours = [(kid, sig) for kid, sig in signed.signatures if kid in by_id]
    if not ours:
        got = ", ".join(kid for kid, _ in signed.signatures)
        raise UntrustedKeyError(
            f"index {index}: snapshot.json is signed by {got}, none of which is a snapshot key "
            f"you accepted ({', '.join(sorted(by_id)) or 'none'})",
            hint="A mirror or the server is serving a snapshot the index owner did not sign. "
            "If the owner really changed keys, remove and re-add the index.",
            details={"reason": "untrusted-key"},
        )
    data = signed.snapshot.canonical_bytes()
    for kid, sig in ours:
        verify_document(data, sig, by_id[kid], what=f"index {index}: snapshot.json")
    snap = signed.snapshot
    if snap.expired(now):
        raise IndexDataError(
            f"index {index}: the snapshot (serial {snap.serial}) expired at {snap.expires}",
            hint="The server keeps serving an old snapshot (a frozen mirror, or the owner has "
            "not re-exported). What hxpm already cached stays in use; ask the owner to "
            "run `hxpm index export-sparse` again.",
            details={"reason": "expired", "expires": snap.expires},
        )
    return snap


def check_not_older(
    new: SignedSnapshot, *, serial: int | None, raw: bytes | None, index: str
) -> None:
    """The rollback guard: a serial never goes down, and one serial is one snapshot.

    Raises:
        RollbackError: the serial is lower, or equal with other content.
    """
    if serial is None:
        return
    got = new.snapshot.serial
    if got < serial:
        raise RollbackError(
            f"index {index}: the server offers snapshot serial {got}, older than serial "
            f"{serial} which hxpm already accepted (a stale mirror, or a replayed snapshot)",
            details={"reason": "stale", "serial": got, "accepted": serial},
        )
    if got == serial and raw is not None:
        old = parse_snapshot(raw, where="accepted snapshot").snapshot
        if old.canonical_bytes() != new.snapshot.canonical_bytes():
            raise RollbackError(
                f"index {index}: the server offers a different snapshot with serial {got}, "
                "the serial hxpm already accepted (snapshots must get a new serial)",
                details={"reason": "stale", "serial": got, "accepted": serial},
            )


def check_file(snapshot: Snapshot, path: str, data: bytes, *, index: str) -> None:
    """A fetched file must be the one the accepted snapshot lists.

    Raises:
        IntegrityError: its SHA-256 differs (a mirror mixing files of several snapshots).
    """
    want = snapshot.hash_of(path)
    got = hashlib.sha256(data).hexdigest()
    if want != got:
        raise IntegrityError(
            f"index {index}: {path} has SHA-256 {got[:16]}…, but snapshot serial "
            f"{snapshot.serial} lists {str(want)[:16]}…",
            hint="The server mixes files from different snapshots (or they were altered); "
            "nothing was changed. Retry later, or ask the server's operator.",
            details={"reason": "mismatch", "path": path},
        )


def keys_text(keys: Sequence[PublicKey]) -> list[str]:
    return [k.text for k in keys]
