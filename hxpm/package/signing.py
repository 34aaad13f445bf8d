"""Ed25519 keys, signed statements and ``.sig`` files
(docs/architecture.md §4; docs/formats/signatures.md).

This is the only module in hxpm that imports PyNaCl. Invariants:

- No PyNaCl exception leaves this module: every failure is a :class:`SignatureError` (or a
  ``UsageError`` for a statement that does not fit its key), raised ``from None``.
- A :class:`Statement` is always well formed: its constructor checks every field, and
  :meth:`Statement.from_bytes` accepts only the canonical encoding, so one statement has
  exactly one byte string and the signature covers exactly those bytes.
- A ``.sig`` file is exactly ``<canonical statement JSON>\\n`` + ``ed25519:<base64 sig>\\n``;
  anything else is refused before any cryptography runs.

Reading and writing key files lives in :mod:`hxpm.package.keyfiles`. Trust (which key may
sign which expert) is not decided here; see :mod:`hxpm.trust_policy`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hxpm.core.digest import is_sha256_hex
from hxpm.core.names import NAME_EXPECTATION, is_valid_name
from hxpm.core.strictjson import DuplicateKeyError, JsonError, read_json
from hxpm.core.versions import Version
from hxpm.errors import HxpmError, SignatureError, UsageError

KEY_PREFIX = "ed25519:"
KEY_BYTES = 32
SIGNATURE_BYTES = 64
STATEMENT_FORMAT = "hxpm-sig/1"
MAX_SIGNATURE_FILE_BYTES = 16 * 1024
# Key files are tiny; a cap stops `hxpm trust add huge.iso` from reading gigabytes.
# Shared with hxpm.package.keyfiles, which reads secret key files.
MAX_KEY_FILE_BYTES = 4 * 1024
MAX_BASE_MODEL_CHARS = 256
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

KEY_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_HEX_KEY_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_STATEMENT_FIELDS = (
    "name",
    "version",
    "base_model",
    "base_sha256",
    "tree_sha256",
    "sha256",
    "key_id",
    "created",
)
_STATEMENT_KEYS = frozenset(("format", *_STATEMENT_FIELDS))
_PUBLIC_KEY_EXPECTATION = (
    "an Ed25519 public key: 'ed25519:<base64 of 32 bytes>' or legacy 'ed25519:<64 hex digits>'"
)


# --- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class PublicKey:
    """A raw 32-byte Ed25519 public key."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_key_bytes(self.raw, "public key")

    def __repr__(self) -> str:
        return f"PublicKey({self.text!r})"

    @property
    def key_id(self) -> str:
        """First 16 hex digits of SHA-256 of the raw key: short, stable, shown to users."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    @property
    def text(self) -> str:
        """``ed25519:<standard base64 of the raw key>``, the form users paste and share."""
        return KEY_PREFIX + base64.b64encode(self.raw).decode("ascii")


@dataclass(frozen=True, slots=True, repr=False)
class SecretKey:
    """A 32-byte Ed25519 seed. Its repr shows only the key id, never the seed."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_key_bytes(self.seed, "secret key seed")

    def __repr__(self) -> str:
        return f"SecretKey(key_id={self.public_key.key_id!r})"

    @property
    def public_key(self) -> PublicKey:
        """The public half, derived from the seed."""
        import nacl.signing  # PyNaCl loads when a key is used, not when lines are read

        return PublicKey(bytes(nacl.signing.SigningKey(self.seed).verify_key))


def _check_key_bytes(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != KEY_BYTES:
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise SignatureError(f"{what}: expected {KEY_BYTES} bytes, got {got}")


def generate_secret_key() -> SecretKey:
    """Make a new Ed25519 key from the operating system's CSPRNG."""
    return SecretKey(secrets.token_bytes(KEY_BYTES))


def parse_public_key(text: str) -> PublicKey:
    """Parse a public key given on the command line or read from a ``.pub`` file.

    Accepts ``ed25519:<base64>`` (hxpm), ``ed25519:<64 hex digits>`` (the original
    expert-cli) and a key file's text: blank lines and lines starting with ``#`` are
    ignored, and exactly one key line must remain.

    Raises:
        SignatureError: the text is not exactly one Ed25519 public key.
    """
    if not isinstance(text, str) or len(text) > MAX_KEY_FILE_BYTES:
        raise SignatureError(f"public key: expected {_PUBLIC_KEY_EXPECTATION}, got {_short(text)}")
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(lines) != 1:
        raise SignatureError(
            f"public key: expected exactly one key line, got {len(lines)}",
            hint="A key file holds one line 'ed25519:<base64>' plus optional '#' comments.",
        )
    line = lines[0]
    if not line.startswith(KEY_PREFIX):
        raise SignatureError(f"public key: expected {_PUBLIC_KEY_EXPECTATION}, got {_short(line)}")
    body = line[len(KEY_PREFIX) :]
    # 64 hex digits can never be base64 of 32 bytes (that is 44 characters), so the
    # length alone tells the legacy form from ours.
    raw = bytes.fromhex(body) if _HEX_KEY_RE.fullmatch(body) else b64decode_strict(body)
    if raw is None or len(raw) != KEY_BYTES:
        raise SignatureError(f"public key: expected {_PUBLIC_KEY_EXPECTATION}, got {_short(line)}")
    return PublicKey(raw)


# --- statements ----------------------------------------------------------------------------


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as UTC ``YYYY-MM-DDTHH:MM:SSZ``; naive datetimes are UTC."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


def is_utc_timestamp(value: object) -> bool:
    """True for a real date and time written as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if not isinstance(value, str) or not _TIMESTAMP_RE.fullmatch(value):
        return False
    # datetime() checks the calendar (month lengths, leap years) as strptime would, at a
    # tenth of its cost: every index line's statement passes through here at update time.
    try:
        datetime(
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
        )
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Statement:
    """What a signature vouches for: one exact package of one expert for one base model.

    ``base_sha256`` may be ``""`` for legacy packages whose base digest is unknown; every
    other digest is 64 lower-case hex digits.
    """

    name: str
    version: str
    base_model: str
    base_sha256: str
    tree_sha256: str
    sha256: str
    key_id: str
    created: str

    def __post_init__(self) -> None:
        problem = _statement_problem({f: getattr(self, f) for f in _STATEMENT_FIELDS})
        if problem:
            raise UsageError(f"signature statement {problem}")

    @classmethod
    def _checked(cls, doc: dict[str, Any]) -> Statement:
        """A statement from fields :func:`_statement_problem` has just passed: the checks are
        not run a second time (statements are parsed once per index line at update time)."""
        statement = object.__new__(cls)
        for f in _STATEMENT_FIELDS:
            object.__setattr__(statement, f, doc[f])
        return statement

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, ASCII only, no trailing newline."""
        doc: dict[str, str] = {"format": STATEMENT_FORMAT}
        doc.update({f: getattr(self, f) for f in _STATEMENT_FIELDS})
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
            "ascii"
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Statement:
        """Parse canonical statement bytes; any other encoding of the same data is refused.

        Raises:
            SignatureError: the bytes are not a canonical ``hxpm-sig/1`` statement.
        """
        if len(data) > MAX_SIGNATURE_FILE_BYTES:
            raise SignatureError(
                f"signature statement: expected at most {MAX_SIGNATURE_FILE_BYTES} bytes, "
                f"got {len(data)}"
            )
        doc = _load_json_object(data)
        if set(doc) != _STATEMENT_KEYS:
            raise SignatureError(
                f"signature statement: expected exactly the keys {sorted(_STATEMENT_KEYS)}, "
                f"got {sorted(doc)}"
            )
        if doc["format"] != STATEMENT_FORMAT:
            raise SignatureError(
                f"signature statement format: expected {STATEMENT_FORMAT!r}, got {doc['format']!r}",
                hint="This signature was made by another tool or a newer hxpm.",
            )
        problem = _statement_problem(doc)
        if problem:
            raise SignatureError(f"signature statement {problem}")
        statement = cls._checked(doc)
        if statement.to_bytes() != data:
            raise SignatureError(
                "signature statement: expected canonical JSON (sorted keys, no spaces, ASCII), "
                "got another encoding of it"
            )
        return statement


def _load_json_object(data: bytes) -> dict[str, Any]:
    if not data.isascii():
        raise SignatureError(
            f"signature statement: expected an ASCII JSON object, got {_short(data)}"
        )
    try:
        doc = read_json(data, max_bytes=MAX_SIGNATURE_FILE_BYTES, max_depth=2)
    except DuplicateKeyError as exc:
        raise SignatureError(
            f"signature statement: expected unique keys, got {exc.key!r} twice"
        ) from None
    except JsonError as exc:
        raise SignatureError(
            f"signature statement: expected an ASCII JSON object ({exc}), got {_short(data)}"
        ) from None
    if not isinstance(doc, dict):
        raise SignatureError(f"signature statement: expected a JSON object, got {_short(data)}")
    return doc


def _statement_problem(doc: dict[str, Any]) -> str | None:
    """The first invalid field as ``"<field>: expected X, got Y"``, or None."""
    for name in _STATEMENT_FIELDS:
        value = doc[name]
        if not isinstance(value, str):
            return f"{name}: expected a string, got {type(value).__name__}"
    checks: tuple[tuple[str, bool, str], ...] = (
        ("name", is_valid_name(doc["name"]), NAME_EXPECTATION),
        ("version", _is_semver(doc["version"]), "a SemVer version such as 1.2.3"),
        (
            "base_model",
            _is_base_model(doc["base_model"]),
            f"a base model name of 1-{MAX_BASE_MODEL_CHARS} printable characters",
        ),
        (
            "base_sha256",
            doc["base_sha256"] == "" or is_sha256_hex(doc["base_sha256"]),
            "64 lower-case hex digits, or '' when the base digest is unknown",
        ),
        ("tree_sha256", is_sha256_hex(doc["tree_sha256"]), "64 lower-case hex digits"),
        ("sha256", is_sha256_hex(doc["sha256"]), "64 lower-case hex digits"),
        ("key_id", KEY_ID_RE.fullmatch(doc["key_id"]) is not None, "16 lower-case hex digits"),
        ("created", is_utc_timestamp(doc["created"]), "a UTC time YYYY-MM-DDTHH:MM:SSZ"),
    )
    for name, ok, expected in checks:
        if not ok:
            return f"{name}: expected {expected}, got {doc[name]!r}"
    return None


@functools.lru_cache(maxsize=4096)  # a pure check; index lines repeat the same versions
def _is_semver(value: str) -> bool:
    if value != value.strip():
        return False
    try:
        Version.parse(value)
    except HxpmError:
        return False
    return True


def _is_base_model(value: str) -> bool:
    return 0 < len(value) <= MAX_BASE_MODEL_CHARS and value.isprintable() and value == value.strip()


# --- signatures ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureEnvelope:
    """A parsed ``.sig`` file: the statement, its exact signed bytes and the signature."""

    statement: Statement
    statement_bytes: bytes
    signature: bytes


def sign_statement(statement: Statement, key: SecretKey) -> str:
    """Sign ``statement`` and return the ``.sig`` file's text.

    Raises:
        UsageError: ``statement.key_id`` is not the id of ``key``.
    """
    key_id = key.public_key.key_id
    if statement.key_id != key_id:
        raise UsageError(
            f"signature statement key_id: expected {key_id} (the signing key), "
            f"got {statement.key_id}"
        )
    data = statement.to_bytes()
    import nacl.signing  # PyNaCl loads when a key is used, not when lines are read

    signature = nacl.signing.SigningKey(key.seed).sign(data).signature
    return f"{data.decode('ascii')}\n{KEY_PREFIX}{base64.b64encode(signature).decode('ascii')}\n"


def parse_signature_file(data: bytes | str) -> SignatureEnvelope:
    """Parse a ``.sig`` file strictly (format: docs/formats/signatures.md).

    Only the shape is checked here; :func:`verify_envelope` checks the signature itself.

    Raises:
        SignatureError: the data is not exactly a statement line and a signature line.
    """
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            raise SignatureError(
                "signature file: expected ASCII text, got other characters"
            ) from None
    if len(data) > MAX_SIGNATURE_FILE_BYTES:
        raise SignatureError(
            f"signature file: expected at most {MAX_SIGNATURE_FILE_BYTES} bytes, got {len(data)}"
        )
    parts = data.split(b"\n")
    if len(parts) != 3 or parts[2] != b"" or b"\r" in data:
        raise SignatureError(
            "signature file: expected exactly two '\\n'-terminated lines (statement, "
            f"signature), got {_short(data)}",
            hint="A .sig file is written by `hxpm sign`; do not edit it.",
        )
    statement = Statement.from_bytes(parts[0])
    line = parts[1].decode("ascii", "replace")
    raw = b64decode_strict(line[len(KEY_PREFIX) :]) if line.startswith(KEY_PREFIX) else None
    if raw is None or len(raw) != SIGNATURE_BYTES:
        raise SignatureError(
            f"signature: expected 'ed25519:<base64 of {SIGNATURE_BYTES} bytes>', got {_short(line)}"
        )
    return SignatureEnvelope(statement=statement, statement_bytes=parts[0], signature=raw)


def verify_envelope(envelope: SignatureEnvelope, key: PublicKey) -> None:
    """Check the Ed25519 signature over the envelope's exact statement bytes.

    Raises:
        SignatureError: the signature does not verify under ``key``, or the envelope is
            inconsistent (its statement is not its signed bytes, or names another key).
    """
    if envelope.statement.to_bytes() != envelope.statement_bytes:
        raise SignatureError("signature envelope: expected the statement to be its signed bytes")
    if envelope.statement.key_id != key.key_id:
        raise SignatureError(
            f"signature: expected a signature by key {key.key_id}, "
            f"got one by key {envelope.statement.key_id}"
        )
    import nacl.exceptions  # PyNaCl loads when a key is used, not when lines are read
    import nacl.signing

    try:
        nacl.signing.VerifyKey(key.raw).verify(envelope.statement_bytes, envelope.signature)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        # BadSignatureError is a CryptoError; ValueError/TypeError cover malformed inputs.
        raise SignatureError(
            f"signature by key {key.key_id}: expected a valid Ed25519 signature over the "
            f"statement for {envelope.statement.name} {envelope.statement.version}, "
            "got one that does not verify",
            hint="The .sig file or the statement was altered; do not install this package.",
        ) from None


def sign_document(data: bytes, key: SecretKey) -> bytes:
    """The raw 64-byte Ed25519 signature of ``data`` (a sparse index snapshot's signed
    part; its own ``format`` field keeps it from being read as a package statement)."""
    import nacl.signing  # PyNaCl loads when a key is used, not when lines are read

    return bytes(nacl.signing.SigningKey(key.seed).sign(data).signature)


def verify_document(data: bytes, signature: bytes, key: PublicKey, *, what: str) -> None:
    """Check a :func:`sign_document` signature.

    Raises:
        SignatureError: it does not verify under ``key`` (``what`` names the document).
    """
    import nacl.exceptions  # PyNaCl loads when a key is used, not when lines are read
    import nacl.signing

    try:
        nacl.signing.VerifyKey(key.raw).verify(data, signature)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise SignatureError(
            f"{what}: expected a valid Ed25519 signature by key {key.key_id}, got one that "
            "does not verify",
            hint="The document was altered after it was signed: do not use it.",
        ) from None


# --- helpers -------------------------------------------------------------------------------


def b64decode_strict(text: str) -> bytes | None:
    """Standard padded base64 with no stray characters and only one valid spelling.

    Public because :mod:`hxpm.package.keyfiles` decodes secret key seeds the same way.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Re-encoding rejects non-zero padding bits, so each value has one accepted spelling.
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
