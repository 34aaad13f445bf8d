"""``hxpm dataset validate|stats|split|dedupe|convert``: one streaming pass each.

Every command reads the file line by line (hxpm/datasets/reader.py); what stays in memory
is bounded per record: a 4-byte length for stats, a 16-byte digest for stats and dedupe.
Outputs are written all-or-nothing (hxpm/datasets/writer.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hxpm.datasets.chatml import has_chat_markers, messages_to_chatml
from hxpm.datasets.convert import TARGETS, convert, dumps_line, record_key, split_point, to_object
from hxpm.datasets.reader import Scan
from hxpm.datasets.records import ChatRecord, PreferenceRecord, PromptCompletion, Record
from hxpm.datasets.writer import atomic_outputs, check_outputs
from hxpm.errors import DatasetError, NotFoundError, UsageError

if TYPE_CHECKING:
    from hxpm.store.store import Store

SPLITS = ("train", "validation", "test")
_BATCH = 512  # records tokenized together (the Rust tokenizer batches in parallel)


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    field: str | None
    message: str
    expected: str | None


@dataclass(frozen=True, slots=True)
class ValidationReport:
    path: Path
    format: str | None
    records: int
    problem_count: int
    problems: tuple[Problem, ...]  # the first ``max_problems``

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


@dataclass(frozen=True, slots=True)
class Distribution:
    min: int
    p50: int
    p95: int
    max: int
    mean: float


@dataclass(frozen=True, slots=True)
class DatasetStats:
    path: Path
    format: str
    records: int
    duplicates: int  # records equal to an earlier one (whitespace-normalized)
    chat_marked: int  # text records with chat markers (their loss goes on assistant spans)
    chars: Distribution
    tokens: Distribution | None
    tokenizer: Path | None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a writing command wrote: each output with its line count."""

    format: str
    read: int
    outputs: tuple[tuple[Path, int], ...]


def _problem(err: DatasetError) -> Problem:
    return Problem(err.line, err.field, err.message, err.expected)


def validate_dataset(
    path: Path,
    *,
    fmt: str | None = None,
    field_mapping: Mapping[str, str] | None = None,
    max_problems: int = 20,
) -> ValidationReport:
    """Read the whole file; report the format, the record count and the first problems."""
    problems: list[Problem] = []

    def note(err: DatasetError) -> None:
        if len(problems) < max_problems:
            problems.append(_problem(err))

    scan = Scan(path, fmt=fmt, field_mapping=field_mapping, on_error=note)
    records, extra = 0, 0
    try:
        for _entry in scan:
            records += 1
    except DatasetError as err:  # a file-level problem: empty, damaged compression
        note(err)
        extra = 1
    return ValidationReport(path, scan.format, records, scan.problems + extra, tuple(problems))


def _training_texts(record: Record) -> tuple[str, ...]:
    """The sequences a record trains on, as the trainer lays them out (ChatML for chats)."""
    if isinstance(record, PromptCompletion):
        return (record.prompt + record.completion,)
    if isinstance(record, PreferenceRecord):
        return (record.prompt + record.chosen, record.prompt + record.rejected)
    if isinstance(record, ChatRecord):
        try:
            return (messages_to_chatml(record.messages),)
        except ValueError:  # content holding markers: its length is still what matters
            return ("".join(m.content for m in record.messages),)
    return (record.text,)


def resolve_tokenizer(store: Store | None, base: str | None, tokenizer: Path | None) -> Path | None:
    """The tokenizer file or folder ``--tokenizer`` names, or the registered base's folder."""
    if tokenizer is not None or base is None:
        return tokenizer
    assert store is not None, "a base name needs the store"
    found = store.db.find_base(base)
    if found is None:
        known = ", ".join(b.name for b in store.db.bases()) or "none"
        raise NotFoundError(
            f"no base model named {base!r} (registered: {known})",
            hint="Register one with `hxpm base add NAME --path DIR`, or pass --tokenizer DIR.",
        )
    return found.path


def dataset_stats(
    path: Path,
    *,
    fmt: str | None = None,
    field_mapping: Mapping[str, str] | None = None,
    tokenizer: Path | None = None,
) -> DatasetStats:
    """Counts, duplicates and length distributions (tokens when a tokenizer is given)."""
    counter = None
    if tokenizer is not None:
        from hxpm.datasets.tokens import TokenCounter

        counter = TokenCounter(tokenizer)
    chars, tokens = array("I"), array("I")
    seen: set[bytes] = set()
    duplicates = marked = 0
    batch: list[tuple[str, ...]] = []

    def flush() -> None:
        if counter is not None and batch:
            flat = [t for texts in batch for t in texts]
            counts = iter(counter.count(flat))
            tokens.extend(max(next(counts) for _ in texts) for texts in batch)
        batch.clear()

    scan = Scan(path, fmt=fmt, field_mapping=field_mapping)
    for entry in scan:
        key = record_key(entry.record)
        duplicates += key in seen
        seen.add(key)
        texts = _training_texts(entry.record)
        marked += scan.format == "text" and has_chat_markers(texts[0])
        chars.append(max(len(t) for t in texts))
        batch.append(texts)
        if len(batch) >= _BATCH:
            flush()
    flush()
    assert scan.format is not None
    return DatasetStats(
        path,
        scan.format,
        len(chars),
        duplicates,
        marked,
        _distribution(chars),
        _distribution(tokens) if counter is not None else None,
        counter.path if counter is not None else None,
    )


def _distribution(values: array[int]) -> Distribution:
    ordered = sorted(values)

    def rank(percent: int) -> int:
        # Nearest rank, ceil(n * p / 100) - 1, in integers (0.95 * 100 is 95.00000000000001).
        return ordered[max(0, -(-len(ordered) * percent // 100) - 1)]

    return Distribution(
        ordered[0], rank(50), rank(95), ordered[-1], round(sum(ordered) / len(ordered), 1)
    )


def parse_ratios(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> three fractions that sum to 1.

    Raises:
        UsageError: not three non-negative numbers summing to 1.
    """
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(not 0 <= p <= 1 for p in parts) or abs(sum(parts) - 1) > 1e-6:
        raise UsageError(
            f"--ratios {text[:40]!r}: expected three fractions for train, validation and "
            "test that sum to 1, such as 0.8,0.1,0.1"
        )
    return parts[0], parts[1], parts[2]


def split_dataset(
    path: Path,
    out_dir: Path,
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    salt: str = "",
    fmt: str | None = None,
    field_mapping: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> WriteResult:
    """Write ``train``/``validation``/``test`` files in ``out_dir`` (the input's suffix).

    Each record goes where the hash of its content falls, so the split is the same on every
    run and machine, and duplicates stay together. Lines are written unchanged.
    """
    suffix = "".join(path.suffixes[-2:]) if path.suffix in (".gz", ".zst") else ".jsonl"
    targets = [out_dir / f"{name}{suffix}" for name in SPLITS]
    check_outputs(targets, inputs=[path], overwrite=overwrite)
    bounds = (ratios[0], ratios[0] + ratios[1])
    scan = Scan(path, fmt=fmt, field_mapping=field_mapping)
    read = 0
    with atomic_outputs(targets) as outs:
        for entry in scan:
            point = split_point(record_key(entry.record), salt)
            index = 0 if point < bounds[0] else 1 if point < bounds[1] else 2
            outs[index].write_line(entry.raw)
            read += 1
    assert scan.format is not None
    return WriteResult(scan.format, read, tuple((o.path, o.lines) for o in outs))


def dedupe_dataset(
    path: Path,
    out: Path,
    *,
    fmt: str | None = None,
    field_mapping: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> WriteResult:
    """Write the records of ``path`` but each exact duplicate (whitespace-normalized) once,
    keeping the first; lines are written unchanged."""
    check_outputs([out], inputs=[path], overwrite=overwrite)
    seen: set[bytes] = set()
    scan = Scan(path, fmt=fmt, field_mapping=field_mapping)
    read = 0
    with atomic_outputs([out]) as (target,):
        for entry in scan:
            read += 1
            key = record_key(entry.record)
            if key not in seen:
                seen.add(key)
                target.write_line(entry.raw)
    assert scan.format is not None
    return WriteResult(scan.format, read, ((target.path, target.lines),))


def convert_dataset(
    path: Path,
    out: Path,
    *,
    to: str,
    fmt: str | None = None,
    field_mapping: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> WriteResult:
    """Write every record of ``path`` in the ``to`` format (docs/datasets.md lists which).

    Raises:
        UsageError: ``to`` is not a format this file's format converts to.
        DatasetError: a line that cannot be converted (text without chat markers ...).
    """
    if to not in TARGETS:
        raise UsageError(f"--to {to[:40]!r}: expected one of {', '.join(TARGETS)}")
    check_outputs([out], inputs=[path], overwrite=overwrite)
    scan = Scan(path, fmt=fmt, field_mapping=field_mapping)
    read = 0
    with atomic_outputs([out]) as (target,):
        for entry in scan:
            assert scan.format is not None
            if to not in TARGETS[scan.format]:
                allowed = ", ".join(TARGETS[scan.format]) or "no other format"
                raise UsageError(
                    f"{path}: a {scan.format} dataset does not convert to {to} "
                    f"(it converts to {allowed})"
                )
            try:
                converted = convert(entry.record, to)
            except ValueError as exc:
                raise DatasetError(
                    f"{path} line {entry.number}: cannot convert to {to}: {exc}",
                    file=str(path),
                    line=entry.number,
                    expected=f"a record that converts to {to}",
                ) from None
            target.write_line(dumps_line(to_object(converted)))
            read += 1
    assert scan.format is not None
    return WriteResult(scan.format, read, ((target.path, target.lines),))
