"""Lock files: record a resolution exactly, and reproduce it byte for byte.

``hxpm.lock`` is JSON: the base model and its digest, the roots asked for, and per expert the
index line it came from reduced to the one variant used (source commit, archive and tree
digests, the signature). ``install --locked`` fetches exactly those bytes, checks them against
the recorded digests and signatures, and fails naming what differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hxpm import __version__
from hxpm.core.digest import is_sha256_hex
from hxpm.core.redact import strip_url_credentials
from hxpm.core.strictjson import JsonError, read_json
from hxpm.core.versions import parse_requirement
from hxpm.errors import BaseMismatchError, IndexDataError, NotFoundError, StoreError
from hxpm.index.model import VersionLine
from hxpm.resolve.model import Resolution
from hxpm.services.apply import ApplyResult, apply_plan
from hxpm.services.candidates import IndexPayload, candidate_from_line
from hxpm.services.indexes import open_cache
from hxpm.services.install import InstallOptions
from hxpm.services.plan import Plan, PlanOptions, PlanStep, plan_install
from hxpm.store.fsutil import atomic_write_bytes
from hxpm.store.store import Store

LOCK_FORMAT = "hxpm-lock/1"
MAX_LOCK_BYTES = 64 << 20
MAX_LOCK_DEPTH = 16  # experts[i].line.variants[j].field is 5 deep; more is not a lock file
LOCK_HINT = "Write the lock file again with `hxpm lock NAME...`; hxpm.lock is not edited by hand."


@dataclass(frozen=True, slots=True)
class LockEntry:
    index: str | None
    line: VersionLine  # exactly one variant: the one for the lock's base model
    requested: bool


@dataclass(frozen=True)
class LockFile:
    base_model: str
    base_sha256: str | None
    roots: tuple[str, ...]
    entries: tuple[LockEntry, ...]


def write_lock(
    store: Store,
    args: list[str],
    output: Path,
    *,
    base: str | None = None,
    allow_prerelease: bool = False,
) -> tuple[LockFile, Plan]:
    plan = plan_install(
        store,
        args,
        PlanOptions(base=base, allow_prerelease=allow_prerelease, include_installed=False),
    )
    entries = []
    for step in plan.steps:
        payload = step.candidate.payload
        assert isinstance(payload, IndexPayload)
        own_base = payload.variant(plan.base_model).base_model  # legacy: a local path
        entries.append(LockEntry(payload.index, _reduced(payload.line, own_base), step.requested))
    lock = LockFile(
        plan.base_model,
        plan.base_sha256,
        tuple(strip_url_credentials(r.raw or str(r)) for r in plan.roots),
        tuple(entries),
    )
    atomic_write_bytes(output, (json.dumps(_to_dict(lock), indent=2) + "\n").encode())
    return lock, plan


def _reduced(line: VersionLine, base: str) -> VersionLine:
    """``line`` with only the variant whose own base name is ``base``."""
    raw = read_json(line.to_json_line(), max_bytes=MAX_LOCK_BYTES)
    raw["variants"] = [v for v in raw["variants"] if v["base_model"] == base]
    # A lock is shared and committed: URLs go in without credentials (netrc supplies them).
    raw["source"]["git"] = strip_url_credentials(raw["source"]["git"])
    for variant in raw["variants"]:
        if isinstance(variant.get("url"), str):
            variant["url"] = strip_url_credentials(variant["url"])
    return VersionLine.parse(json.dumps(raw, separators=(",", ":")), where="lock")


def _to_dict(lock: LockFile) -> dict[str, Any]:
    return {
        "format": LOCK_FORMAT,
        "generated_by": f"hxpm {__version__}",
        "base_model": lock.base_model,
        "base_sha256": lock.base_sha256,
        "roots": list(lock.roots),
        "experts": [
            {
                "index": e.index,
                "requested": e.requested,
                "line": read_json(e.line.to_json_line(), max_bytes=MAX_LOCK_BYTES),
            }
            for e in lock.entries
        ],
    }


def read_lock(path: Path) -> LockFile:
    """Read a lock file someone may have edited: every field is checked before use.

    Raises:
        NotFoundError: no file at ``path``.
        IndexDataError: not a lock file hxpm wrote (the message names the field).
    """
    if not path.is_file():
        raise NotFoundError(f"no lock file at {path}", hint="Create one with `hxpm lock NAME...`.")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_LOCK_BYTES + 1)
        data = read_json(raw, max_bytes=MAX_LOCK_BYTES, max_depth=MAX_LOCK_DEPTH)
    except OSError as e:
        raise StoreError(f"cannot read the lock file {path}: {e}") from None
    except JsonError as e:
        raise IndexDataError(f"{path}: not a JSON lock file ({e})", hint=LOCK_HINT) from None
    if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise IndexDataError(
            f"{path}: expected format {LOCK_FORMAT!r}, got {_shown(got)}", hint=LOCK_HINT
        )
    base = _field(
        path,
        data,
        "base_model",
        lambda v: isinstance(v, str) and bool(v.strip()),
        "a base model name",
    )
    digest = _field(
        path,
        data,
        "base_sha256",
        lambda v: v is None or v == "" or (isinstance(v, str) and is_sha256_hex(v)),
        "64 lower-case hex digits or null",
    )
    roots = _field(
        path,
        data,
        "roots",
        lambda v: isinstance(v, list) and all(isinstance(r, str) for r in v),
        "a list of requirement strings",
    )
    experts = _field(
        path, data, "experts", lambda v: isinstance(v, list), "a list of locked experts"
    )
    for i, r in enumerate(roots):
        parse_requirement(r, field=f"{path}: roots[{i}]")
    entries = tuple(_entry(path, i, e) for i, e in enumerate(experts))
    return LockFile(base, digest or None, tuple(roots), entries)


def _field(
    path: Path, data: dict[str, Any], key: str, ok: Callable[[Any], bool], expected: str
) -> Any:
    value = data.get(key)
    if not ok(value):
        raise IndexDataError(
            f"{path}: {key}: expected {expected}, got {_shown(value)}", hint=LOCK_HINT
        )
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _entry(path: Path, i: int, e: Any) -> LockEntry:
    where = f"{path}: experts[{i}]"
    if not isinstance(e, dict) or not isinstance(e.get("line"), dict):
        raise IndexDataError(f"{where}: expected an object with a 'line'", hint=LOCK_HINT)
    line = VersionLine.parse(json.dumps(e["line"]), where=where)
    if len(line.variants) != 1:
        raise IndexDataError(
            f"{where}: expected exactly one variant, got {len(line.variants)}", hint=LOCK_HINT
        )
    index, requested = e.get("index"), e.get("requested", False)
    if not (index is None or isinstance(index, str)) or not isinstance(requested, bool):
        raise IndexDataError(
            f"{where}: expected index (a string or null) and requested "
            f"(true or false), got {_shown(index)} and {_shown(requested)}",
            hint=LOCK_HINT,
        )
    return LockEntry(index, line, requested)


def install_locked(
    store: Store, path: Path, options: InstallOptions = InstallOptions(), **kw: Any
) -> ApplyResult:
    lock = read_lock(path)
    _check_base(store, lock)
    _check_against_indexes(store, lock)
    steps = []
    bases = store.db.bases()
    for e in lock.entries:
        cand = candidate_from_line(e.index, e.line, bases=bases)
        present = store.db.find_installed(e.line.name, str(e.line.version), lock.base_model)
        same = present is not None and present.tree_sha256 == e.line.variants[0].tree_sha256
        steps.append(PlanStep("keep" if same else "install", cand, None, e.requested))
    plan = Plan(
        lock.base_model,
        lock.base_sha256,
        (),
        tuple(steps),
        Resolution(tuple(s.candidate for s in steps), {}),
    )
    return apply_plan(store, plan, options, **kw)


def _check_base(store: Store, lock: LockFile) -> None:
    base = store.db.find_base(lock.base_model)
    if base is None:
        raise NotFoundError(
            f"the lock is for base model {lock.base_model!r}, which is not registered",
            hint=f"hxpm base add {lock.base_model} --path DIR",
        )
    if lock.base_sha256 and base.sha256 != lock.base_sha256:
        raise BaseMismatchError(
            f"the lock was made for {lock.base_model} with digest "
            f"{lock.base_sha256[:16]}…, yours is {base.sha256[:16]}…"
        )


def _check_against_indexes(store: Store, lock: LockFile) -> None:
    """A locked version an index now describes differently is a republish: refuse it."""
    cache = open_cache(store)
    try:
        for e in lock.entries:
            if e.index is None:
                continue
            for cached in cache.lines_for(e.line.name, index=e.index):
                if cached.line.version != e.line.version:
                    continue
                _compare(e, cached.line)
    finally:
        cache.close()


def _compare(e: LockEntry, now: VersionLine) -> None:
    locked = e.line.variants[0]
    current = now.variant_for(locked.base_model)
    diffs = []
    if now.source.commit != e.line.source.commit:
        diffs.append(f"source commit {e.line.source.commit[:12]} -> {now.source.commit[:12]}")
    if current is None:
        diffs.append(f"no variant for {locked.base_model} any more")
    elif current.sha256 != locked.sha256:
        diffs.append(f"archive sha256 {locked.sha256[:16]}… -> {current.sha256[:16]}…")
    if diffs:
        raise IndexDataError(
            f"{e.line.name} {e.line.version} differs from the lock in index "
            f"{e.index}: " + "; ".join(diffs),
            hint="Published versions must not change; re-lock only if you trust the new bytes.",
        )
