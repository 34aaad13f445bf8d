"""Read a JSONL dataset as records, streaming (docs/datasets.md).

``iter_records`` is what the trainer uses; :class:`Scan` is the same walk for the ``dataset``
commands, which also need each line's original bytes (split and dedupe write lines back
unchanged, metadata fields included) and, for ``validate``, every problem rather than the
first.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from hxpm.datasets.chatml import assistant_spans
from hxpm.datasets.lines import MAX_LINE_BYTES, TooLong, open_dataset, raw_lines
from hxpm.datasets.parse import Line, build, check_mapping, detect, load_object, no_format
from hxpm.datasets.records import FORMATS, Record
from hxpm.errors import DatasetError

# ``training.dataset.format`` in real manifests names the container ("jsonl"); the older
# tool's schema also allows these, which hxpm does not read.
CONTAINERS = ("jsonl", "auto")
UNSUPPORTED_CONTAINERS = ("csv", "parquet", "huggingface")
ALIASES = {"chatml": "text", "alpaca": "instruction", "chat": "messages", "dpo": "preference"}

__all__ = ["FORMATS", "Entry", "Scan", "assistant_spans", "detect_format", "iter_records"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One record with its 1-based line number and the line's bytes as the file has them."""

    number: int
    raw: bytes
    record: Record


def record_format(fmt: str | None, path: str) -> str | None:
    """The record format a ``--format`` or manifest ``format`` value asks for; None: detect.

    Raises:
        DatasetError: a container hxpm does not read (csv, parquet, a Hugging Face id) or an
            unknown name.
    """
    if fmt is None or fmt in CONTAINERS:
        return None
    if not isinstance(fmt, str):  # a manifest's value, not checked by its type yet
        raise DatasetError(
            f"{path}: dataset format must be a string",
            file=path,
            field="format",
            expected=f"jsonl (detect) or one of {', '.join(FORMATS)}",
        )
    fmt = ALIASES.get(fmt, fmt)
    if fmt in FORMATS:
        return fmt
    what = "a container hxpm does not read" if fmt in UNSUPPORTED_CONTAINERS else "unknown"
    raise DatasetError(
        f"{path}: dataset format {fmt[:40]!r} is {what}",
        file=path,
        field="format",
        expected=f"jsonl (detect) or one of {', '.join(FORMATS)}",
        hint="Convert the data to JSONL lines; docs/datasets.md shows each format.",
    )


class Scan:
    """One pass over a dataset file: ``for entry in Scan(path): ...``.

    After the pass, ``format`` is the record format (named or detected from the first
    line that is a JSON object), ``lines`` counts non-blank lines and ``problems`` the
    refused lines. Without ``on_error`` the first problem raises; with it, each line-level
    problem is handed over and the walk goes on (an unreadable file still raises).
    """

    def __init__(
        self,
        path: Path,
        *,
        fmt: str | None = None,
        field_mapping: Mapping[str, str] | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        on_error: Callable[[DatasetError], None] | None = None,
    ) -> None:
        self.path = path
        self._shown = str(path)
        self.format = record_format(fmt, self._shown)
        self._named = self.format is not None
        self._names = check_mapping(field_mapping, self._shown)
        self._max = max_line_bytes
        self._on_error = on_error
        self.lines = self.problems = 0
        self._detected_at = 0

    def __iter__(self) -> Generator[Entry, None, None]:
        with open_dataset(self.path) as stream:
            for number, data in raw_lines(stream, self._max):
                if isinstance(data, bytes) and not data.strip():
                    continue
                self.lines += 1
                try:
                    record = self._record(number, data)
                except DatasetError as exc:
                    self.problems += 1
                    if self._on_error is None:
                        raise
                    self._on_error(exc)
                    continue
                assert isinstance(data, bytes)  # a TooLong line raised above
                yield Entry(number, data, record)
        if self.lines == 0:
            raise DatasetError(
                f"{self._shown}: no records (the file is empty or holds only blank lines)",
                file=self._shown,
                expected="one JSON object per line",
            )

    def _record(self, number: int, data: bytes | TooLong) -> Record:
        line = Line(self._shown, number, self._names)
        if isinstance(data, TooLong):
            raise line.error(
                f"longer than {data.cap} bytes", expected=f"a line of at most {data.cap} bytes"
            )
        obj = load_object(line, data, self._max)
        if self.format is None:
            found = detect(obj)
            if found is None:
                raise no_format(line, obj)
            self.format, self._detected_at = found, number
        elif not self._named:
            # Say why this format is expected of a line that looks like another one.
            line.context = f" (the file is {self.format}, detected from line {self._detected_at})"
        return build(line, obj, self.format)


def detect_format(path: Path, *, field_mapping: Mapping[str, str] | None = None) -> str:
    """The record format of a dataset, from its first non-blank line.

    Raises:
        NotFoundError: no such file.
        DatasetError: the first line is not a JSON object of a known format, or the file
            holds no line.
    """
    scan = Scan(path, field_mapping=field_mapping)
    entries = scan.__iter__()
    try:
        next(entries, None)
    finally:
        entries.close()  # closes the file now, not when the generator is collected
    assert scan.format is not None  # a first record was built, so a format was set
    return scan.format


def iter_records(
    path: Path,
    *,
    fmt: str | None = None,
    field_mapping: Mapping[str, str] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, Record]]:
    """``(line number, record)`` for each non-blank line, reading the file line by line.

    ``fmt``: one of :data:`FORMATS`, or None / ``"jsonl"`` to detect it from the first line
    (then every line must be in that format). Plain, ``.gz`` and ``.zst`` files.

    Raises:
        NotFoundError: no such file.
        DatasetError: the first line that does not fit (file, line, field, expectation):
            bad JSON, a missing or wrongly typed field, non-UTF-8 bytes, a line over
            ``max_line_bytes``, damaged compression, or an empty file.
    """
    for entry in Scan(path, fmt=fmt, field_mapping=field_mapping, max_line_bytes=max_line_bytes):
        yield entry.number, entry.record
