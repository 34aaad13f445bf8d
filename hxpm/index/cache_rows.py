"""The index cache's rows (private to :mod:`hxpm.index.cache`, which documents the layout):
expert files stored at update time, checked on first use, and the verified records and
search rows they become.

Two kinds of data live here, and they never mix:

- *Verified records* (``lines``): written only from lines the strict parser accepted
  (:func:`hxpm.index.ingest.read_expert_file`). Resolution, install, lock and info read
  only these.
- *Pending files* (``files``): an expert file exactly as the index served it, stored at
  update time after its path was checked against its name. :func:`verify_pending` checks
  it the first time its name is read and turns it into verified records, once. Until then
  the only thing read from it is a display summary for ``hxpm search`` (newest stable line
  by file order, decoded by the C JSON parser, strings only, escaped when shown), which
  is corrected from the verified lines at first use.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hxpm.errors import IndexDataError, UsageError

if TYPE_CHECKING:  # the model (semver, PyNaCl) is imported only when lines are checked
    from hxpm.core.versions import Version
    from hxpm.index.model import VersionLine

BATCH_FILES = 500  # expert files held before their rows are inserted (bounded memory)
REBUILD_HINT = "Delete index-cache.sqlite in the hxpm home and run `hxpm index update`."
MAX_SUMMARY_LINES = 64  # lines of an unchecked file looked at for its search summary
# Separators of the compact resolution columns. NUL between items: the requirement parser
# refuses it anywhere (a newline or tab may sit between a range's clauses), and base model
# names are printable text. TAB between a base model name and its digest.
ITEM_SEP, PAIR_SEP = "\x00", "\t"
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True, slots=True)
class Summary:
    """What ``hxpm search`` shows of one (index, expert); display only."""

    version: str
    description: str
    capabilities: tuple[str, ...]
    keywords: tuple[str, ...]


# --- pending files -------------------------------------------------------------------------


def store_files(
    conn: sqlite3.Connection, index: str, files: Iterable[tuple[str, bytes | None, bool]]
) -> int:
    """Store expert files unchecked (their lines are checked on first use), a batch at a
    time; ``(path, data, replaces)``: ``replaces`` deletes the expert's old rows first,
    ``data`` None only removes them. Returns how many files were read or removed.

    Raises:
        IndexDataError: a path is not its name's shard, or a name comes twice.
    """
    from hxpm.index.ingest import name_of_expert_file

    count = 0
    seen: set[str] = set()
    batch: list[tuple[str, str, bytes]] = []
    for path, data, replaces in files:
        name = name_of_expert_file(index, path)
        if name is None:
            continue
        if name in seen:
            raise IndexDataError(f"index {index}: {path} is listed twice in one update")
        seen.add(name)
        count += 1
        if replaces:
            delete_rows(conn, "idx = ? AND name = ?", (index, name))
        if data is not None:
            batch.append((name, path, data))
        if len(batch) >= BATCH_FILES:
            _insert_pending(conn, index, batch)
            batch = []
    _insert_pending(conn, index, batch)
    return count


def _insert_pending(
    conn: sqlite3.Connection, index: str, batch: Sequence[tuple[str, str, bytes]]
) -> None:
    if not batch:
        return
    conn.executemany(
        "INSERT INTO files (idx, name, path, data) VALUES (?,?,?,?)",
        [(index, name, path, data) for name, path, data in batch],
    )
    insert_summaries(conn, index, [(name, summary_of_unchecked(data)) for name, _, data in batch])


def verify_pending(conn: sqlite3.Connection, name: str, index: str | None) -> None:
    """Check the pending files of ``name`` (in ``index``, or all) and store their verified
    records, in one write transaction; nothing to do (no write) when none is pending.

    Idempotent: a concurrent reader that checked them first leaves nothing pending here.

    Raises:
        IndexDataError: a file holds an invalid line (nothing changes: the name stays
            pending, and every read of it raises the same error; other names are unaffected).
        sqlite3.Error: the database cannot be written (the caller maps it).
    """
    where, args = (
        ("name = ?", (name,)) if index is None else ("name = ? AND idx = ?", (name, index))
    )
    if conn.execute(f"SELECT 1 FROM files WHERE {where} LIMIT 1", args).fetchone() is None:
        return
    from hxpm.index.ingest import read_expert_file

    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(f"SELECT idx, path, data FROM files WHERE {where}", args).fetchall()
        for idx, path, data in rows:
            parsed = read_expert_file(idx, path, bytes(data))
            records = parsed[1] if parsed else []
            conn.execute("DELETE FROM files WHERE name = ? AND idx = ?", (name, idx))
            delete_summary(conn, "idx = ? AND name = ?", (idx, name))
            insert_verified(conn, idx, {name: records} if records else {})
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def summary_of_unchecked(data: bytes) -> Summary:
    """The display summary of an unchecked file: its last stable non-yanked line (hxpm
    writes files in version order), else its last non-yanked one, else its last one.
    Anything that does not decode, or is not a string where one is expected, is left out."""
    last: dict[str, Any] | None = None
    last_unyanked: dict[str, Any] | None = None
    for raw in itertools.islice(reversed(data.split(b"\n")), MAX_SUMMARY_LINES):
        doc = _decoded(raw)
        if doc is None:
            continue
        last = last or doc
        if doc.get("yanked") is True:
            continue
        last_unyanked = last_unyanked or doc
        version = doc.get("version")
        if isinstance(version, str) and "-" not in version.split("+", 1)[0]:
            return _summary(doc)
    return _summary(last_unyanked or last or {})


def _decoded(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _summary(doc: dict[str, Any]) -> Summary:
    routing = doc.get("routing")
    keywords = routing.get("keywords") if isinstance(routing, dict) else None
    return Summary(
        _str(doc.get("version")),
        _str(doc.get("description")),
        _strs(doc.get("capabilities")),
        _strs(keywords),
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _strs(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


# --- verified records and search rows ------------------------------------------------------


def insert_verified(
    conn: sqlite3.Connection, index: str, groups: Mapping[str, Sequence[tuple[VersionLine, str]]]
) -> None:
    """Rows for each name's (verified line, its JSON text) pairs, sorted by version."""
    if not groups:
        return
    conn.executemany(
        "INSERT INTO lines (name, idx, version, line, requires, incompatible, "
        "load_order, max_chain, yanked, bases) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (ln.name, index, str(ln.version), text, *release_columns(ln))
            for group in groups.values()
            for ln, text in group
        ],
    )
    insert_summaries(
        conn, index, [(name, _shown([ln for ln, _ in group])) for name, group in groups.items()]
    )


def insert_summaries(
    conn: sqlite3.Connection, index: str, summaries: Sequence[tuple[str, Summary]]
) -> None:
    if not summaries:
        return
    next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM experts").fetchone()[0]
    expert_rows: list[tuple[Any, ...]] = []
    search_rows: list[tuple[Any, ...]] = []
    cap_rows: list[tuple[int, str, str, str]] = []
    for expert_id, (name, shown) in enumerate(summaries, start=next_id):
        short = name.removeprefix("expert-") or name
        caps, keywords = list(shown.capabilities), list(shown.keywords)
        expert_rows.append(
            (
                expert_id,
                index,
                name,
                short,
                shown.version,
                shown.description,
                json.dumps(caps),
                json.dumps(keywords),
            )
        )
        search_rows.append(
            (expert_id, name, short, " ".join(keywords), " ".join(caps), shown.description)
        )
        for cap in caps:
            ns, colon, value = cap.lower().partition(":")
            if not colon:  # a bare word from the older tool: no namespace, found by value
                ns, value = "", ns
            cap_rows.append((expert_id, cap.lower(), ns, value))
    conn.executemany(
        "INSERT INTO experts (id, idx, name, short, version, description, "
        "capabilities, keywords) VALUES (?,?,?,?,?,?,?,?)",
        expert_rows,
    )
    conn.executemany(
        "INSERT INTO search (rowid, name, short, keywords, capabilities, "
        "description) VALUES (?,?,?,?,?,?)",
        search_rows,
    )
    conn.executemany(
        "INSERT INTO capabilities (expert_id, cap, ns, value) VALUES (?,?,?,?)", cap_rows
    )


def delete_summary(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> None:
    ids = f"SELECT id FROM experts WHERE {where}"
    conn.execute(f"DELETE FROM search WHERE rowid IN ({ids})", args)
    conn.execute(f"DELETE FROM capabilities WHERE expert_id IN ({ids})", args)
    conn.execute(f"DELETE FROM experts WHERE {where}", args)


def delete_rows(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> None:
    delete_summary(conn, where, args)
    conn.execute(f"DELETE FROM lines WHERE {where}", args)
    conn.execute(f"DELETE FROM files WHERE {where}", args)


def release_columns(line: VersionLine) -> tuple[Any, ...]:
    """The resolution columns of a verified line (what ``CachedRelease`` reads), compact
    text that ``str.split`` decodes: requirements joined by NUL, bases as
    ``base_model<TAB>base_sha256`` joined by NUL (schema 4; 2 and 3 stored JSON arrays)."""
    from hxpm.index.model_checks import render_requirement

    return (
        ITEM_SEP.join(render_requirement(r) for r in line.requires),
        ITEM_SEP.join(render_requirement(r) for r in line.incompatible_with),
        line.load_order,
        line.max_chain,
        int(line.yanked),
        ITEM_SEP.join(f"{v.base_model}{PAIR_SEP}{v.base_sha256}" for v in line.variants),
    )


def _shown(group: list[VersionLine]) -> Summary:
    """What search describes: the version a plain install would pick (group is sorted)."""
    unyanked = [ln for ln in group if not ln.yanked]
    stable = [ln for ln in unyanked if not ln.version.is_prerelease]
    line = (stable or unyanked or group)[-1]
    return Summary(str(line.version), line.description, line.capabilities, line.keywords)


def group_lines(lines: Iterable[VersionLine]) -> dict[str, list[VersionLine]]:
    """Lines by name, each list sorted by version; a repeated (name, version) is refused."""
    groups: dict[str, list[VersionLine]] = {}
    for line in lines:
        groups.setdefault(line.name, []).append(line)
    for name, group in groups.items():
        keyed = sorted(((_precedence(ln.version), ln) for ln in group), key=lambda kl: kl[0])
        for (key_a, _), (key_b, line) in itertools.pairwise(keyed):
            if key_a == key_b:  # equal precedence: the same version (build metadata aside)
                raise IndexDataError(f"index lines: {name} {line.version} is listed twice")
        group[:] = [ln for _, ln in keyed]
    return groups


def _precedence(version: Version) -> tuple[Any, ...]:
    """A sort key with SemVer precedence; semver's own compare is ~10x slower per pair."""
    v = version.value
    pre = v.prerelease
    if pre is None:
        return (v.major, v.minor, v.patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (v.major, v.minor, v.patch, 0, parts)


def set_head(conn: sqlite3.Connection, index: str, commit: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute(
        "INSERT OR REPLACE INTO indexes (name, head, updated_at) VALUES (?,?,?)",
        (index, commit, now),
    )


def check_index(index: object, commit: object) -> None:
    """An index name and a Git commit id, as a write records them, or UsageError."""
    if not isinstance(index, str) or not index or len(index) > 128 or not index.isprintable():
        raise UsageError(f"index name: expected 1-128 printable characters, got {index!r}")
    if not isinstance(commit, str) or not _COMMIT_RE.fullmatch(commit):
        raise UsageError(f"index commit: expected a Git commit id (40 hex digits), got {commit!r}")
