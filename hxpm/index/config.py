"""An index's ``config.json``: its name, description and the keys it vouches for
(docs/architecture.md §5).

Pure values and strict parsing, no I/O (the format: docs/formats/index.md §3). As with the
version lines in :mod:`hxpm.index.model`, every object here is valid (parsing and the
dataclasses check every value), and ``raw`` keeps the whole document as read, unknown
fields included, so that rewriting a config (adding a key) keeps what hxpm does not know.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

from hxpm.errors import HxpmError, IndexDataError
from hxpm.index import model_checks as ck
from hxpm.index.model_checks import MISSING, Fields, bad, relocate
from hxpm.package.signing import parse_public_key

__all__ = ["INDEX_FORMAT", "IndexConfig", "IndexKey"]

INDEX_FORMAT = "hxpm-index/1"
MAX_CONFIG_BYTES = 1 << 20
MAX_INDEX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 4096
MAX_OWNER_CHARS = 64  # a trust record's publisher (hxpm.trust_policy) is this owner
SCOPE_RE = re.compile(r"^[a-z0-9*?-]{1,128}$")
SCOPE_EXPECTATION = "an expert name or a glob of a-z, 0-9, '-', '*', '?' (1-128 characters)"


@dataclass(frozen=True, slots=True)
class IndexKey:
    """A key an index vouches for, and the expert names (globs) it may sign."""

    key_id: str
    public_key: str  # "ed25519:<base64>"
    owner: str
    experts: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_key(self.key_id, self.public_key, self.owner, self.experts)

    def covers(self, expert: str) -> bool:
        """True if one of the key's scopes matches ``expert`` (case-sensitive fnmatch)."""
        return any(fnmatch.fnmatchcase(expert, scope) for scope in self.experts)

    def to_dict(self) -> dict[str, Any]:
        """The entry under ``keys.<key_id>`` in ``config.json``."""
        return {"public_key": self.public_key, "owner": self.owner, "experts": list(self.experts)}


def _check_key(key_id: object, public_key: object, owner: object, experts: object) -> None:
    """An index key entry: the id must be derived from the key (signing.md §1).

    Raises ``bad(field, ...)`` without a location; the parser re-issues it with relocate().
    """
    expected = "an Ed25519 public key on one line, 'ed25519:<base64 of 32 bytes>'"
    if not isinstance(public_key, str) or "\n" in public_key or public_key != public_key.strip():
        raise bad("public_key", public_key, expected)
    try:
        derived = parse_public_key(public_key).key_id
    except HxpmError:
        raise bad("public_key", public_key, expected) from None
    if key_id != derived:
        raise bad(
            "key_id",
            key_id,
            f"{derived} (the id of its public_key: first 16 hex digits of its SHA-256)",
        )
    if not isinstance(owner, str) or not ck.is_printable_text(owner, MAX_OWNER_CHARS):
        raise bad("owner", owner, f"1-{MAX_OWNER_CHARS} printable characters")
    if not isinstance(experts, tuple) or not experts:
        raise bad("experts", experts, "a non-empty list of expert names or globs")
    for i, scope in enumerate(experts):
        if not isinstance(scope, str) or not SCOPE_RE.fullmatch(scope):
            raise bad(f"experts[{i}]", scope, SCOPE_EXPECTATION)


@dataclass(frozen=True)
class IndexConfig:
    """An index's ``config.json``: its name, description and the keys it vouches for."""

    name: str
    description: str
    keys: tuple[IndexKey, ...]  # sorted by key id
    raw: dict[str, Any] = field(repr=False, hash=False)

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "config.json") -> IndexConfig:
        """Parse ``config.json`` strictly.

        Raises:
            IndexDataError: not JSON, an unknown ``format``, a missing or bad field, a key
                whose id is not the id of its public key, or a bad expert scope.
        """
        if len(data) > MAX_CONFIG_BYTES:
            raise bad("", f"{len(data)} bytes", f"at most {MAX_CONFIG_BYTES} bytes", where=source)
        return cls._from_doc(ck.decode_object(data, source, "an index config"), source)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], *, source: str = "config.json") -> IndexConfig:
        """Validate an already parsed document (a private copy is kept).

        Raises:
            IndexDataError: as :meth:`from_bytes`.
        """
        if not isinstance(doc, dict):
            raise bad("", doc, "an index config as a JSON object", where=source)
        ck.check_plain(doc, source)
        return cls._from_doc(copy.deepcopy(doc), source)

    @classmethod
    def _from_doc(cls, doc: dict[str, Any], source: str) -> IndexConfig:
        f = Fields(doc, source)
        fmt = f.get("format", None)
        if fmt != INDEX_FORMAT:
            newer = isinstance(fmt, str) and fmt.startswith("hxpm-index/")
            raise f.fail(
                "format",
                MISSING if fmt is None else fmt,
                repr(INDEX_FORMAT),
                hint="Upgrade hxpm: this index uses a newer format." if newer else ck.HINT,
            )
        name = f.string(
            "name",
            check=lambda s: ck.is_printable_text(s, MAX_INDEX_NAME_CHARS),
            expected=f"1-{MAX_INDEX_NAME_CHARS} printable characters",
        )
        description = f.string(
            "description",
            default="",
            check=lambda s: len(s) <= MAX_DESCRIPTION_CHARS,
            expected=f"a string of at most {MAX_DESCRIPTION_CHARS} characters",
        )
        entries = f.child("keys", required=False)
        keys = tuple(_parse_key(entries, key_id) for key_id in sorted(entries.doc))
        return cls(name=name, description=description, keys=keys, raw=doc)

    @classmethod
    def new(cls, name: str, description: str = "") -> IndexConfig:
        """A fresh config with no keys (``hxpm index init``).

        Raises:
            IndexDataError: ``name`` or ``description`` is not valid.
        """
        doc = {"format": INDEX_FORMAT, "name": name, "description": description, "keys": {}}
        return cls.from_dict(doc, source="new index config")

    def to_bytes(self) -> bytes:
        """Pretty JSON (2-space indent, key order kept, UTF-8) plus a final newline."""
        return (json.dumps(self.raw, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def with_key(self, key: IndexKey) -> IndexConfig:
        """This config with ``key`` added, or replacing the entry with the same id."""
        doc = copy.deepcopy(self.raw)
        existing = doc.get("keys")
        keys: dict[str, Any] = existing if isinstance(existing, dict) else {}
        keys[key.key_id] = key.to_dict()
        doc["keys"] = dict(sorted(keys.items()))
        return type(self)._from_doc(doc, "index config")

    def without_key(self, key_id: str) -> IndexConfig:
        """This config without the key ``key_id`` (unchanged if it has no such key)."""
        doc = copy.deepcopy(self.raw)
        if isinstance(doc.get("keys"), dict):
            doc["keys"].pop(key_id, None)
        return type(self)._from_doc(doc, "index config")

    def keys_for(self, expert: str) -> tuple[IndexKey, ...]:
        """The keys this index vouches for as signers of ``expert``."""
        return tuple(k for k in self.keys if k.covers(expert))


def _parse_key(entries: Fields, key_id: str) -> IndexKey:
    entry = entries.child(key_id)
    public_key = entry.string("public_key", expected="an Ed25519 public key 'ed25519:<base64>'")
    owner = entry.string("owner", expected="the key owner's name (a string)")
    experts = entry.strings(
        "experts", check=lambda s: SCOPE_RE.fullmatch(s) is not None, expected=SCOPE_EXPECTATION
    )
    if "experts" not in entry.doc:
        raise entry.fail("experts", MISSING, "a list of the expert names or globs it may sign")
    try:
        return IndexKey(key_id=key_id, public_key=public_key, owner=owner, experts=experts)
    except IndexDataError as exc:
        raise relocate(exc, entries.where, entry.path) from None
