"""An index's expert files, as ``(path, bytes)`` pairs, to verified version lines.

The one place where a file read from an index (Git, or another transport) becomes lines the
cache may store: the path must be the shard of the name it ends in (so a file cannot
shadow another expert's), and every line is parsed strictly, its signature statement
checked against it (:func:`hxpm.index.model.parse_expert_records`). This runs once per
file per update; the cache keeps the result and never checks it again.
"""

from __future__ import annotations

from hxpm.errors import IndexDataError
from hxpm.index.model import VersionLine, parse_expert_records, shard_path

__all__ = ["read_expert_file"]


def read_expert_file(index: str, path: str, data: bytes | None
                     ) -> tuple[str, list[tuple[VersionLine, str]]] | None:
    """``(name, [(line, its JSON text), ...])`` for one expert file, sorted by version;
    ``data`` None (a deleted file) gives no lines. None for placeholders such as
    ``experts/.keep``.

    Raises:
        IndexDataError: ``path`` is not where the expert it names belongs, or the file
            holds an invalid line, a line of another expert, or a version twice.
    """
    name = path.rsplit("/", 1)[-1]
    if name.startswith("."):  # .keep and similar placeholders
        return None
    try:
        expected = shard_path(name)
    except IndexDataError as exc:
        raise IndexDataError(f"index {index}: {path}: {exc.message}", hint=exc.hint,
                             details=exc.details) from None
    if expected != path:
        raise IndexDataError(f"index {index}: {path} is not where an expert named "
                             f"{name!r} belongs (expected {expected})")
    if data is None:
        return name, []
    return name, parse_expert_records(data, name=name, where=f"index {index}: {path}")
