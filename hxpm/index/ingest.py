"""An index's expert files, as ``(path, bytes)`` pairs, to verified version lines.

The one place where a file read from an index (Git, or another transport) becomes lines the
cache may store: the path must be the shard of the name it ends in (so a file cannot
shadow another expert's; checked when the file is stored, :func:`name_of_expert_file`),
and every line is parsed strictly, its signature statement checked against it
(:func:`hxpm.index.expert_file.parse_expert_records`; run once per file, the first time its name
is read, :func:`read_expert_file`). The cache keeps the result and never checks it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hxpm.errors import IndexDataError

if TYPE_CHECKING:  # the model (semver, PyNaCl) is imported only when lines are checked
    from hxpm.index.model import VersionLine

__all__ = ["name_of_expert_file", "read_expert_file"]


def name_of_expert_file(index: str, path: str) -> str | None:
    """The expert an index file at ``path`` belongs to; None for placeholders such as
    ``experts/.keep``.

    Raises:
        IndexDataError: ``path`` is not where the expert it names belongs.
    """
    from hxpm.index.model import shard_path

    name = path.rsplit("/", 1)[-1]
    if name.startswith("."):  # .keep and similar placeholders
        return None
    try:
        expected = shard_path(name)
    except IndexDataError as exc:
        raise IndexDataError(
            f"index {index}: {path}: {exc.message}", hint=exc.hint, details=exc.details
        ) from None
    if expected != path:
        raise IndexDataError(
            f"index {index}: {path} is not where an expert named "
            f"{name!r} belongs (expected {expected})"
        )
    return name


def read_expert_file(
    index: str, path: str, data: bytes | None
) -> tuple[str, list[tuple[VersionLine, str]]] | None:
    """``(name, [(line, its JSON text), ...])`` for one expert file, sorted by version;
    ``data`` None (a deleted file) gives no lines. None for placeholders such as
    ``experts/.keep``.

    Raises:
        IndexDataError: ``path`` is not where the expert it names belongs, or the file
            holds an invalid line, a line of another expert, or a version twice.
    """
    from hxpm.index.expert_file import parse_expert_records

    name = name_of_expert_file(index, path)
    if name is None:
        return None
    if data is None:
        return name, []
    return name, parse_expert_records(data, name=name, where=f"index {index}: {path}")
