"""Trust policy: which key may sign which expert, and the full signature check
(docs/architecture.md §4).

Pure policy, no I/O: the store persists :class:`TrustedKey` records and passes them in; the
package reader computes :class:`PackageFacts` from the actual bytes. Rules:

1. A signature counts only if its key is trusted *for that expert name*: each trusted key
   carries fnmatch-style scopes (``("*",)`` = every expert, ``("expert-sql*",)`` = some).
2. The trust check comes first (cheap, and its error tells the user how to fix it), then the
   Ed25519 check, then every statement field is compared with the package's real facts, so a
   valid signature for another expert, version, base model or archive is refused.
3. Only when all three pass is a :class:`VerifiedSignature` returned; every failure is a
   ``VerificationError`` subclass.
"""

from __future__ import annotations

import fnmatch
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hxpm.errors import (
    SignatureError,
    StatementMismatchError,
    UntrustedKeyError,
    UsageError,
)
from hxpm.package.signing import (
    PublicKey,
    SecretKey,
    SignatureEnvelope,
    Statement,
    is_utc_timestamp,
    parse_public_key,
    utc_timestamp,
    verify_envelope,
)

MAX_PUBLISHER_CHARS = 64
MAX_SCOPE_CHARS = 128
SCOPE_RE = re.compile(r"^[a-z0-9*?\[\]-]{1," + str(MAX_SCOPE_CHARS) + r"}$")
_SOURCE_RE = re.compile(r"^(user|index:\S{1,64})$")
# Order in which statement fields are compared with the package (and reported on mismatch).
FACT_FIELDS = ("name", "version", "base_model", "base_sha256", "tree_sha256", "sha256")
_MISMATCH_HINTS = {
    "name": "This .sig belongs to another expert (a swapped package); do not install it.",
    "version": "This .sig belongs to another version (a downgrade or swap); do not install it.",
    "base_model": "This .sig is for a build on another base model; get the matching variant.",
    "base_sha256": "This .sig is for another base model build; get the matching variant.",
    "tree_sha256": "The package contents differ from what was signed (tampering); do not use it.",
    "sha256": "The archive differs from the one that was signed (tampering); do not use it.",
}


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key the user (or a trusted index) accepts for some expert names."""

    key_id: str
    public_key: PublicKey
    publisher: str
    scopes: tuple[str, ...]
    added_at: str
    source: str = "user"

    def __post_init__(self) -> None:
        # Checked on every construction so a record loaded from the store is as sound as one
        # made by make_trusted_key.
        if self.key_id != self.public_key.key_id:
            raise UsageError(
                f"trusted key id: expected {self.public_key.key_id} (derived from the key), "
                f"got {self.key_id!r}"
            )
        _check_publisher(self.publisher)
        _check_scopes(self.scopes)
        if not is_utc_timestamp(self.added_at):
            raise UsageError(
                f"trusted key added_at: expected a UTC time YYYY-MM-DDTHH:MM:SSZ, "
                f"got {self.added_at!r}"
            )
        if not isinstance(self.source, str) or not _SOURCE_RE.fullmatch(self.source):
            raise UsageError(
                f"trusted key source: expected 'user' or 'index:<name>', got {self.source!r}"
            )

    def covers(self, expert_name: str) -> bool:
        """True if any scope matches ``expert_name`` (case-sensitive fnmatch)."""
        return any(fnmatch.fnmatchcase(expert_name, scope) for scope in self.scopes)


def make_trusted_key(
    public_key_text: str,
    *,
    publisher: str,
    scopes: Sequence[str] = ("*",),
    source: str = "user",
    now: str | None = None,
) -> TrustedKey:
    """Build a trust record from user input (``hxpm trust add``) or an index's key list.

    Surrounding spaces are stripped from the publisher and scopes; duplicate scopes are
    dropped, keeping the first.

    Raises:
        SignatureError: ``public_key_text`` is not an Ed25519 public key.
        UsageError: the publisher, a scope, the source or ``now`` is invalid.
    """
    key = parse_public_key(public_key_text)
    if isinstance(scopes, str):
        # A bare string would otherwise be read as one scope per character.
        scopes = (scopes,)
    # Non-strings pass through unchanged so that TrustedKey reports them by value.
    clean = tuple(dict.fromkeys(s.strip() if isinstance(s, str) else s for s in scopes))
    return TrustedKey(
        key_id=key.key_id,
        public_key=key,
        publisher=publisher.strip() if isinstance(publisher, str) else publisher,
        scopes=clean,
        added_at=now if now is not None else utc_timestamp(),
        source=source,
    )


def _check_publisher(publisher: object) -> None:
    ok = (
        isinstance(publisher, str)
        and 0 < len(publisher) <= MAX_PUBLISHER_CHARS
        and publisher.isprintable()
        and publisher == publisher.strip()
    )
    if not ok:
        raise UsageError(
            f"publisher: expected 1-{MAX_PUBLISHER_CHARS} printable characters, got {publisher!r}",
            hint="Name the key's owner, e.g. --name 'Acme Labs'.",
        )


def _check_scopes(scopes: object) -> None:
    if not isinstance(scopes, tuple) or not scopes:
        raise UsageError(
            f"trust scopes: expected at least one expert-name glob, got {scopes!r}",
            hint="Use --experts '*' for every expert or --experts 'expert-sql*' for some.",
        )
    for scope in scopes:
        if not isinstance(scope, str) or not SCOPE_RE.fullmatch(scope):
            raise UsageError(
                f"trust scope: expected a glob of a-z, 0-9, '-', '*', '?', '[', ']' "
                f"(at most {MAX_SCOPE_CHARS} characters), got {scope!r}",
                hint="Examples: '*', 'expert-sql', 'expert-sql*', 'expert-[a-m]*'.",
            )


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """Proof that a trusted key signed a statement matching the package."""

    key_id: str
    publisher: str
    statement: Statement


@dataclass(frozen=True, slots=True)
class PackageFacts:
    """What a package actually is, computed by the reader from its bytes and manifest."""

    name: str
    version: str
    base_model: str
    base_sha256: str
    tree_sha256: str
    sha256: str


def statement_for(facts: PackageFacts, key: SecretKey, *, now: datetime | None = None) -> Statement:
    """The statement that ``key`` signs for a package described by ``facts``.

    Raises:
        UsageError: a fact is not valid in a statement (bad name, version or digest).
    """
    return Statement(
        name=facts.name,
        version=facts.version,
        base_model=facts.base_model,
        base_sha256=facts.base_sha256,
        tree_sha256=facts.tree_sha256,
        sha256=facts.sha256,
        key_id=key.public_key.key_id,
        created=utc_timestamp(now),
    )


def verify_signature(
    envelope: SignatureEnvelope, facts: PackageFacts, trusted: Sequence[TrustedKey]
) -> VerifiedSignature:
    """Accept a signature only from a key trusted for this expert, over these exact facts.

    Raises:
        UntrustedKeyError: no trusted key has the signature's key id, or none of those keys
            is trusted for ``facts.name``.
        SignatureError: the Ed25519 signature does not verify.
        StatementMismatchError: the signed statement describes another package.
    """
    candidates = _keys_for(envelope, facts, trusted)  # (a) trust, by key id and scope
    verified = _first_verifying(envelope, candidates)  # (b) the signature itself
    _check_facts(envelope.statement, facts)  # (c) the statement is this package
    return VerifiedSignature(
        key_id=verified.key_id, publisher=verified.publisher, statement=envelope.statement
    )


def _keys_for(
    envelope: SignatureEnvelope, facts: PackageFacts, trusted: Sequence[TrustedKey]
) -> list[TrustedKey]:
    key_id = envelope.statement.key_id
    same_id = [k for k in trusted if k.key_id == key_id]
    if not same_id:
        raise UntrustedKeyError(
            f"{facts.name} {facts.version}: expected a signature by a trusted key, "
            f"got one by key {key_id}, which is not in your trust store",
            hint=(
                f"If you trust its publisher, get the publisher's public key (ed25519:...) "
                f"and run: hxpm trust add <key> --name <publisher> --experts '{facts.name}'"
            ),
            details={"key_id": key_id, "expert": facts.name},
        )
    # Scope is checked against the package's real name: that is what would be installed.
    covering = [k for k in same_id if k.covers(facts.name)]
    if not covering:
        first = same_id[0]
        scopes = ", ".join(f"'{s}'" for k in same_id for s in k.scopes)
        raise UntrustedKeyError(
            f"key {key_id} (publisher {first.publisher}) is trusted for {scopes}, "
            f"not for '{facts.name}'",
            hint=(
                f"To trust it for this expert too, run: hxpm trust add {first.public_key.text} "
                f"--name '{first.publisher}' --experts '{facts.name}'"
            ),
            details={"key_id": key_id, "expert": facts.name, "scopes": scopes},
        )
    # The user's own decisions come before keys vouched for by an index.
    return sorted(covering, key=lambda k: k.source != "user")


def _first_verifying(envelope: SignatureEnvelope, candidates: list[TrustedKey]) -> TrustedKey:
    # Several records can share a key id (a user entry and an index entry, or in theory a
    # truncated-id collision); the signature must verify under one of the trusted keys
    # themselves, never under anything taken from the .sig file.
    error: SignatureError | None = None
    for record in candidates:
        try:
            verify_envelope(envelope, record.public_key)
        except SignatureError as exc:
            error = exc
            continue
        return record
    raise error or SignatureError("signature: expected a trusted key to check it with, got none")


def _check_facts(statement: Statement, facts: PackageFacts) -> None:
    for field_name in FACT_FIELDS:
        signed = getattr(statement, field_name)
        actual = getattr(facts, field_name)
        # Constant time: digests are compared where an attacker may control one side.
        if not hmac.compare_digest(signed.encode(), str(actual).encode()):
            raise StatementMismatchError(
                f"signed statement {field_name}: the signature says {signed!r}, "
                f"the package is {actual!r}",
                hint=_MISMATCH_HINTS[field_name],
                details={"field": field_name, "signed": signed, "actual": actual},
            )
