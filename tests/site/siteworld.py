"""Real inputs for the site tests: signed version lines, a Git index checkout, expert repos.

Lines are signed with a real Ed25519 key over real statements; repositories are made with
the git command line, so the service reads them through the same Git layer as users do.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from hxpm.index.config import IndexConfig, IndexKey
from hxpm.index.model import VersionLine, shard_path
from hxpm.package.signing import SecretKey, Statement, sign_statement

KEY = SecretKey(hashlib.sha256(b"hxpm site tests").digest())
BASE = "hxpm/tiny-qwen3"
ZERO_COMMIT = "0" * 40
GIT_ENV = {
    "GIT_AUTHOR_NAME": "site tests",
    "GIT_AUTHOR_EMAIL": "site@example.invalid",
    "GIT_COMMITTER_NAME": "site tests",
    "GIT_COMMITTER_EMAIL": "site@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000",
}


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def line_doc(name: str, version: str, **fields: Any) -> dict[str, Any]:
    """A version line document; ``fields`` override any top-level field."""
    base = fields.pop("base", BASE)
    created = fields.pop("created", "2026-02-03T04:05:06Z")
    sha, tree = _h(f"archive {name} {version}"), _h(f"tree {name} {version}")
    statement = Statement(
        name=name,
        version=version,
        base_model=base,
        base_sha256=_h(base),
        tree_sha256=tree,
        sha256=sha,
        key_id=KEY.public_key.key_id,
        created=created,
    )
    doc: dict[str, Any] = {
        "v": 1,
        "name": name,
        "version": version,
        "description": f"{name} does one thing well",
        "source": {
            "git": f"https://git.example.invalid/{name}.git",
            "tag": f"v{version}",
            "commit": ZERO_COMMIT,
        },
        "requires": [],
        "incompatible_with": [],
        "capabilities": ["tech:sql"],
        "routing": {"keywords": ["sql"], "exclude_keywords": [], "priority": 0.5},
        "variants": [
            {
                "base_model": base,
                "base_sha256": _h(base),
                "path": f"dist/{name}.expert",
                "url": None,
                "size": 123456,
                "sha256": sha,
                "tree_sha256": tree,
                "signature": sign_statement(statement, KEY),
            }
        ],
        "yanked": False,
    }
    doc.update(fields)
    return doc


def line(name: str, version: str, **fields: Any) -> VersionLine:
    return VersionLine.parse(json.dumps(line_doc(name, version, **fields)), where="test line")


def index_key(owner: str = "Site Tests", experts: tuple[str, ...] = ("expert-*",)) -> IndexKey:
    pub = KEY.public_key
    return IndexKey(pub.key_id, pub.text, owner, experts)


def git_repo(path: Path, files: dict[str, bytes]) -> str:
    """A Git repository at ``path`` holding ``files`` in one commit; its commit id."""
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "test"], check=True, env=env)
    out = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, env=env, capture_output=True
    )
    return out.stdout.decode().strip()


def index_checkout(
    path: Path, docs: list[dict[str, Any]], *, name: str = "site-tests", owner: str = "Site Tests"
) -> str:
    """An index checkout listing ``docs`` (line documents), with the test key vouched for."""
    config = IndexConfig.new("placeholder", "An index for the site tests").with_key(
        index_key(owner)
    )
    raw = {**config.raw, "name": name}
    files = {"config.json": IndexConfig.from_dict(raw).to_bytes()}
    by_name: dict[str, list[str]] = {}
    for doc in docs:
        by_name.setdefault(doc["name"], []).append(json.dumps(doc, separators=(",", ":")))
    for expert, texts in by_name.items():
        files[shard_path(expert)] = ("\n".join(texts) + "\n").encode()
    return git_repo(path, files)
