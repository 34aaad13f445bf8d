"""An expert's index file: one JSON version line per published version (docs/formats/index.md).

Reading checks every line strictly (:meth:`hxpm.index.model.VersionLine.parse`) and that the
file lists one expert, each version once; writing puts the lines in version order. Pure, no
I/O: callers read the bytes from Git, a sparse index or a working tree.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hxpm.core.versions import Version
from hxpm.index import model_checks as ck
from hxpm.index.model import VersionLine
from hxpm.index.model_checks import bad

__all__ = [
    "MAX_EXPERT_FILE_BYTES",
    "parse_expert_file",
    "parse_expert_records",
    "render_expert_file",
]

MAX_EXPERT_FILE_BYTES = 16 << 20


def parse_expert_file(data: bytes, *, name: str, where: str) -> list[VersionLine]:
    """Every non-empty line of an expert's index file, sorted by version.

    Raises:
        IndexDataError: the file is over 16 MiB, a line is invalid, a line names another
            expert than ``name``, or a version is listed twice.
    """
    return [line for line, _ in parse_expert_records(data, name=name, where=where)]


def parse_expert_records(data: bytes, *, name: str, where: str) -> list[tuple[VersionLine, str]]:
    """As :func:`parse_expert_file`, each line with its own JSON text (what the index
    cache stores as the verified record; :mod:`hxpm.index.verified` reads it back).

    Raises:
        IndexDataError: as :func:`parse_expert_file`.
    """
    if len(data) > MAX_EXPERT_FILE_BYTES:
        raise bad(
            "",
            f"{len(data)} bytes",
            f"an expert file of at most {MAX_EXPERT_FILE_BYTES} bytes",
            where=where,
        )
    seen: dict[Version, int] = {}
    records: list[tuple[VersionLine, str]] = []
    # Split on \n only: U+2028 and friends are legal inside JSON strings.
    for number, raw in enumerate(bytes(data).split(b"\n"), start=1):
        if not raw.strip():
            continue
        at = f"{where} line {number}"
        text = ck.decode_text(raw, at, "a version line")
        line = VersionLine.parse(text, where=at)
        if line.name != name:
            raise bad(
                "name",
                line.name,
                f"{name!r}: this file lists {name} only, and a line "
                "for another expert does not belong in it",
                where=at,
            )
        if line.version in seen:
            raise bad(
                "version",
                str(line.version),
                f"a version not already listed (line "
                f"{seen[line.version]} has it; published lines are immutable)",
                where=at,
            )
        seen[line.version] = number
        records.append((line, text))
    records.sort(key=lambda record: record[0].version)
    return records


def render_expert_file(lines: Sequence[VersionLine]) -> bytes:
    """The file for one expert: its lines in version order, each ending in ``\\n``.

    Raises:
        IndexDataError: the lines name more than one expert, or repeat a version.
    """
    ordered = sorted(lines, key=lambda ln: ln.version)
    for before, after in itertools.pairwise(ordered):
        if after.name != ordered[0].name:
            raise bad("name", after.name, f"{ordered[0].name!r} (one expert per file)")
        if after.version == before.version:
            raise bad("version", str(after.version), "each version at most once per file")
    return b"".join(ln.to_json_line().encode("utf-8") + b"\n" for ln in ordered)
