"""`hxpm index export-sparse`: the static tree of a sparse index, from a Git index checkout.

The tree is what the checkout's HEAD commit holds (``config.json`` and ``experts/``), with
the signing key added to ``config.json``'s ``snapshot_keys``, plus a signed
``snapshot.json``. Every expert file is checked as ``index update`` would check it, so a
bad line is refused here rather than by every user. ``snapshot.json`` is written last: a
host that syncs the folder as it changes serves the old snapshot until the new files are
all there.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hxpm.errors import HxpmError, StoreError, UsageError
from hxpm.index import git
from hxpm.index.config import MAX_CONFIG_BYTES, IndexConfig
from hxpm.index.expert_file import MAX_EXPERT_FILE_BYTES, parse_expert_file
from hxpm.index.model import shard_path
from hxpm.index.sparse import (
    CONFIG_FILE,
    MAX_SERIAL,
    SNAPSHOT_FILE,
    SNAPSHOT_KEYS_FIELD,
    new_snapshot,
    parse_snapshot,
    sign_snapshot,
)
from hxpm.services.keys import load_key
from hxpm.store.fsutil import atomic_write_bytes

EXPERTS_DIR = "experts/"
DEFAULT_EXPIRES_DAYS = 14.0


@dataclass(frozen=True, slots=True)
class SparseExport:
    outdir: Path
    index: str
    serial: int
    commit: str
    expires: str
    experts: int
    key_id: str
    snapshot_bytes: int  # size of snapshot.json


def export_sparse(
    checkout: Path,
    outdir: Path,
    *,
    key_name: str | None = None,
    key_path: Path | None = None,
    expires_days: float = DEFAULT_EXPIRES_DAYS,
    serial: int | None = None,
) -> SparseExport:
    """Write the sparse tree of ``checkout``'s HEAD into ``outdir`` and sign its snapshot.

    The serial defaults to the current Unix time, or one more than the snapshot already in
    ``outdir`` if that is higher: it must only grow, even when the tree is re-made from
    scratch on another machine.

    Raises:
        UsageError: bad ``expires_days`` or ``serial``; a serial not above the one in
            ``outdir``.
        IndexDataError: the checkout holds a bad config.json or expert file.
        NotFoundError: no such checkout or key.
    """
    if not 0 < expires_days <= 3660:
        raise UsageError(f"--expires-in: expected 0 < DAYS <= 3660, got {expires_days:g}")
    key, _ = load_key(key_name, key_path)
    checkout = checkout.expanduser().resolve()
    head = git.head_commit(checkout)
    config = IndexConfig.from_bytes(
        git.read_file(checkout, head, CONFIG_FILE, max_bytes=MAX_CONFIG_BYTES),
        source=f"{checkout}: config.json",
    )
    files = {CONFIG_FILE: _config_with_key(config, key.public_key.text)}
    for path, data in git.iter_files(checkout, head, EXPERTS_DIR, max_bytes=MAX_EXPERT_FILE_BYTES):
        name = path.rsplit("/", 1)[-1]
        if name.startswith("."):
            continue  # .keep and similar placeholders
        if shard_path(name) != path:
            raise UsageError(
                f"{checkout}: {path} is not where an expert named {name!r} "
                f"belongs (expected {shard_path(name)})"
            )
        files[path] = data
    _check_lines(checkout, files, _previous_hashes(outdir))
    serial = _next_serial(outdir, serial)
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=expires_days)
    snapshot = new_snapshot(config.name, serial, head, expires, files)
    signed = sign_snapshot(snapshot, [key])
    _write_tree(outdir, files, signed)
    return SparseExport(
        outdir,
        config.name,
        serial,
        head,
        snapshot.expires,
        len(files) - 1,
        key.public_key.key_id,
        len(signed),
    )


def _check_lines(checkout: Path, files: dict[str, bytes], checked: dict[str, str]) -> None:
    """Every line checked as `index update` checks it, so users never get a bad one; a file
    the previous export in OUTDIR already listed with the same SHA-256 was checked then."""
    for path, data in files.items():
        if path == CONFIG_FILE or checked.get(path) == hashlib.sha256(data).hexdigest():
            continue
        parse_expert_file(data, name=path.rsplit("/", 1)[-1], where=f"{checkout}: {path}")


def _previous_hashes(outdir: Path) -> dict[str, str]:
    try:
        raw = (outdir.expanduser() / SNAPSHOT_FILE).read_bytes()
        return dict(parse_snapshot(raw, where=SNAPSHOT_FILE).snapshot.files)
    except (OSError, HxpmError):
        return {}


def _config_with_key(config: IndexConfig, public_key: str) -> bytes:
    doc = copy.deepcopy(config.raw)
    keys = doc.get(SNAPSHOT_KEYS_FIELD)
    listed = list(keys) if isinstance(keys, list) else []
    if public_key not in listed:
        listed.append(public_key)
    doc[SNAPSHOT_KEYS_FIELD] = listed
    return IndexConfig.from_dict(doc, source="config.json").to_bytes()


def _next_serial(outdir: Path, requested: int | None) -> int:
    previous = -1
    with contextlib.suppress(OSError, HxpmError):  # no usable snapshot there: use the clock
        previous = parse_snapshot(
            (outdir / SNAPSHOT_FILE).read_bytes(), where=str(outdir / SNAPSHOT_FILE)
        ).snapshot.serial
    if requested is not None:
        if not previous < requested <= MAX_SERIAL:
            raise UsageError(
                f"--serial: expected a number above {previous} (the serial in "
                f"{outdir}) and at most {MAX_SERIAL}, got {requested}",
                hint="Serials only grow: users refuse a lower one as a rollback.",
            )
        return requested
    return max(int(time.time()), previous + 1)


def _write_tree(outdir: Path, files: dict[str, bytes], snapshot: bytes) -> None:
    outdir = outdir.expanduser()
    try:
        for path, data in files.items():
            target = outdir / path
            if not target.is_file() or target.read_bytes() != data:
                atomic_write_bytes(target, data)
        experts = outdir / "experts"
        for stale in (p for p in experts.rglob("*") if p.is_file()) if experts.is_dir() else ():
            if stale.relative_to(outdir).as_posix() not in files:
                stale.unlink()
        atomic_write_bytes(outdir / SNAPSHOT_FILE, snapshot)
    except OSError as exc:
        raise StoreError(f"cannot write the sparse index into {outdir}: {exc}") from None
