"""Where the store lives. Environment variables are read at call time, never at import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def store_root() -> Path:
    """``$HXPM_HOME`` if set, else the platform's user data dir for hxpm."""
    env = os.environ.get("HXPM_HOME")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("hxpm", appauthor=False))


def user_key_dir() -> Path:
    """Where ``hxpm key generate`` writes secret keys.

    ``$HXPM_KEY_DIR``, else ``$HXPM_HOME/config/keys`` when HXPM_HOME is set (so a test or a
    sandbox stays self-contained), else the platform's user config dir.
    """
    env = os.environ.get("HXPM_KEY_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if os.environ.get("HXPM_HOME"):
        return store_root() / "config" / "keys"
    import platformdirs

    return Path(platformdirs.user_config_dir("hxpm", appauthor=False)) / "keys"


@dataclass(frozen=True, slots=True)
class StorePaths:
    root: Path

    @classmethod
    def from_env(cls) -> StorePaths:
        return cls(store_root())

    @property
    def state_db(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def lock_file(self) -> Path:
        return self.root / "store.lock"

    @property
    def experts(self) -> Path:
        return self.root / "experts"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def indexes(self) -> Path:
        return self.root / "indexes"

    @property
    def repos(self) -> Path:
        return self.root / "repos"

    @property
    def index_cache(self) -> Path:
        return self.root / "index-cache.sqlite"

    def blob(self, sha256: str) -> Path:
        return self.blobs / sha256

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def expert_dir(self, name: str, version: str, base_slug: str, tree_sha256: str) -> Path:
        # The tree digest in the path lets a reinstall write a new directory and switch the
        # database row in one transaction: a crash leaves an orphan, never a torn tree.
        return self.experts / name / version / base_slug / tree_sha256[:16]
