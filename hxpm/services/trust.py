"""The user's trust store: which publisher keys are trusted for which expert names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hxpm.errors import NotFoundError, UsageError
from hxpm.package.signing import parse_public_key
from hxpm.store.store import Store
from hxpm.trust_policy import TrustedKey, make_trusted_key

MAX_KEY_FILE_BYTES = 4096


def trusted_keys(store: Store) -> list[TrustedKey]:
    return [
        TrustedKey(
            key_id=k,
            public_key=parse_public_key(pub),
            publisher=p,
            scopes=tuple(scopes),
            added_at=added,
            source=src,
        )
        for k, pub, p, scopes, added, src in store.db.trusted_key_rows()
    ]


def read_key_argument(value: str) -> str:
    """A public key given inline (``ed25519:…``) or as a path to a ``.pub`` file.

    An inline key is taken exactly as typed: whitespace or a control character around or in
    it means it was pasted with something else, and a key is not guessed at.
    """
    if value.lstrip().startswith("ed25519:"):
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise UsageError(
                f"expected a public key 'ed25519:<base64>' with nothing around it, got "
                f"{value[:80]!r}",
                hint="Copy the key exactly as `hxpm key show` prints it.",
            )
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(
            f"expected a public key 'ed25519:<base64>' or a path to a .pub file, got {value!r}",
            hint="Ask the publisher for the output of `hxpm key show`.",
        )
    if path.stat().st_size > MAX_KEY_FILE_BYTES:
        raise UsageError(f"{path}: expected a small public key file, got {path.stat().st_size} B")
    return path.read_text(encoding="utf-8", errors="replace")


def add_trusted_key(
    store: Store, key: str, *, publisher: str, scopes: list[str] | None = None
) -> TrustedKey:
    trusted = make_trusted_key(
        read_key_argument(key), publisher=publisher, scopes=tuple(scopes or ["*"])
    )
    with store.writing(), store.db.transaction() as conn:
        store.db.put_trusted_key(
            conn,
            trusted.key_id,
            trusted.public_key.text,
            trusted.publisher,
            list(trusted.scopes),
            trusted.added_at,
            trusted.source,
        )
    return trusted


@dataclass(frozen=True, slots=True)
class TrustRemoval:
    removed: tuple[TrustedKey, ...]


def remove_trusted_key(store: Store, key_or_publisher: str) -> TrustRemoval:
    """Remove by key id (or a unique prefix of 4+ chars), or every key of a publisher."""
    with store.writing():
        keys = trusted_keys(store)
        hits = [k for k in keys if k.publisher == key_or_publisher]
        if not hits and len(key_or_publisher) >= 4:
            hits = [k for k in keys if k.key_id.startswith(key_or_publisher)]
        if not hits:
            raise NotFoundError(
                f"no trusted key with id or publisher {key_or_publisher!r}",
                hint="See the trusted keys with `hxpm trust list`.",
            )
        with store.db.transaction() as conn:
            store.db.delete_trusted_keys(conn, sorted({k.key_id for k in hits}))
    return TrustRemoval(tuple(hits))
