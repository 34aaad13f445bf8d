"""Values the store persists: installed experts, registered base models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class InstalledExpert:
    name: str
    version: str
    base_model: str
    base_slug: str
    base_sha256: str
    sha256: str
    tree_sha256: str
    size: int
    path: Path
    key_id: str | None
    publisher: str | None
    unsafe_unsigned: bool
    source: str
    installed_at: str
    manifest: dict[str, Any]
    members: tuple[tuple[str, int, str], ...]
    requested: bool = True  # asked for by the user, not only pulled in as a dependency
    index_name: str | None = None
    source_commit: str | None = None
    # ``base_model`` is the registered base the variant was matched to; the manifest may name
    # it otherwise (legacy: a local path). None on rows from stores older than schema 3.
    manifest_base: str | None = None
    base_match: str | None = None  # how it matched: hxpm.services.basematch.MatchKind

    @property
    def signed(self) -> bool:
        return self.key_id is not None

    @property
    def manifest_base_name(self) -> str:
        """The base name as the package's manifest writes it."""
        return self.manifest_base or self.base_model


@dataclass(frozen=True, slots=True)
class BaseModel:
    name: str
    path: Path
    sha256: str
    added_at: str
    source: str
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """A configured Git index and the last commit hxpm accepted from it."""

    name: str
    url: str
    priority: int  # lower is consulted first
    trust_keys: bool  # the user accepted the keys the index vouches for
    accepted_commit: str | None
    added_at: str
    updated_at: str | None
