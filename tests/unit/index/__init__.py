"""Index model and cache tests, with builders for real signed version lines."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from hxpm.index.model import VersionLine
from hxpm.package.signing import SecretKey, generate_secret_key, sign_statement
from hxpm.trust_policy import PackageFacts, statement_for

KEY: SecretKey = generate_secret_key()
BASE = "Qwen/Qwen3-0.6B"
COMMIT = "a" * 40


def h(text: str) -> str:
    """A stable fake digest: SHA-256 of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()


def signature(
    name: str,
    version: str,
    base: str = BASE,
    *,
    base_sha256: str | None = None,
    sha256: str | None = None,
    tree_sha256: str | None = None,
    key: SecretKey = KEY,
) -> str:
    """A real ``.sig`` text for the package these facts describe."""
    facts = PackageFacts(
        name=name,
        version=version,
        base_model=base,
        base_sha256=h(base) if base_sha256 is None else base_sha256,
        tree_sha256=tree_sha256 or h(f"tree {name} {version} {base}"),
        sha256=sha256 or h(f"archive {name} {version} {base}"),
    )
    return sign_statement(statement_for(facts, key), key)


def variant_doc(
    name: str,
    version: str,
    base: str = BASE,
    *,
    key: SecretKey = KEY,
    signed_as: tuple[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A valid variant object; ``signed_as=(name, version)`` signs for another package."""
    doc: dict[str, Any] = {
        "base_model": base,
        "base_sha256": h(base),
        "path": f"dist/{name}-{version}.expert",
        "url": None,
        "size": 4096,
        "sha256": h(f"archive {name} {version} {base}"),
        "tree_sha256": h(f"tree {name} {version} {base}"),
    }
    sig_name, sig_version = signed_as or (name, version)
    doc["signature"] = signature(
        sig_name,
        sig_version,
        base,
        base_sha256=doc["base_sha256"],
        sha256=doc["sha256"],
        tree_sha256=doc["tree_sha256"],
        key=key,
    )
    doc.update(fields)
    return doc


def line_doc(
    name: str = "expert-sql",
    version: str = "0.3.0",
    *,
    bases: tuple[str, ...] = (BASE,),
    **fields: Any,
) -> dict[str, Any]:
    """A complete, valid version line as a dict; ``fields`` override top-level keys."""
    doc: dict[str, Any] = {
        "v": 1,
        "name": name,
        "version": version,
        "description": f"{name} does {name.removeprefix('expert-')} things",
        "source": {
            "git": f"https://github.com/acme/{name}",
            "tag": f"v{version}",
            "commit": COMMIT,
        },
        "requires": [],
        "incompatible_with": [],
        "load_order": 5,
        "max_chain": 10,
        "capabilities": [f"tech:{name.removeprefix('expert-')}"],
        "routing": {
            "keywords": [name.removeprefix("expert-")],
            "exclude_keywords": [],
            "priority": 0.5,
        },
        "variants": [variant_doc(name, version, b) for b in bases],
        "yanked": False,
    }
    doc.update(copy.deepcopy(fields))
    return doc


def line_text(name: str = "expert-sql", version: str = "0.3.0", **kw: Any) -> str:
    return json.dumps(line_doc(name, version, **kw), separators=(",", ":"))


def make_line(name: str = "expert-sql", version: str = "0.3.0", **kw: Any) -> VersionLine:
    return VersionLine.parse(line_text(name, version, **kw), where=f"test {name} {version}")
