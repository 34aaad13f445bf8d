"""The datasets of a training recipe, read with ``hxpm.datasets`` and handed to the runtime.

The records (``hxpm.datasets.records``) become the runtime's plain example values
(``hxpm.runtime.recipe``): the runtime layer imports nothing above ``hxpm.core``, so the
conversion happens here. Which file feeds which method:

* SFT: ``training.dataset.path`` (and ``validation_path``): text, prompt/completion,
  messages or instruction lines (``field_mapping`` renames fields).
* DPO: ``preference_path`` (and ``preference_validation_path``) when given, else ``path``
  (and ``validation_path``), which must then hold preference pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hxpm.errors import DatasetError

SFT_FORMATS = ("text", "prompt_completion", "messages", "instruction")


@dataclass(frozen=True)
class TrainingSet:
    train: tuple[Any, ...]  # hxpm.runtime.recipe examples
    validation: tuple[Any, ...]
    train_file: Path
    validation_file: Path | None


def read_training_set(expert_dir: Path, spec: Any, method: str) -> TrainingSet:
    """The examples of a recipe's ``training.dataset`` (``spec``: a DatasetSpec) for ``method``.

    Raises:
        NotFoundError: a named file does not exist.
        DatasetError: a line does not fit (file, line and field named), or the file holds
            records of another kind than ``method`` trains on.
    """
    from hxpm.runtime.recipe import dataset_file

    dpo = method == "dpo"
    if dpo and spec.preference_path:
        paths = [
            ("training.dataset.preference_path", spec.preference_path),
            ("training.dataset.preference_validation_path", spec.preference_validation_path),
        ]
    else:
        paths = [
            ("training.dataset.path", spec.path),
            ("training.dataset.validation_path", spec.validation_path),
        ]
    files = [dataset_file(expert_dir, rel, field) if rel else None for field, rel in paths]
    assert files[0] is not None  # the recipe requires training.dataset.path
    # training.dataset.format describes path; the preference files are read as pairs
    fmt = "preference" if dpo and spec.preference_path else _record_format(spec.format)
    read = [read_examples(f, fmt, dict(spec.field_mapping), dpo) if f else () for f in files]
    return TrainingSet(read[0], read[1], files[0], files[1])


def _record_format(fmt: str) -> str | None:
    return "prompt_completion" if fmt == "prompt-completion" else fmt


def read_examples(
    path: Path, fmt: str | None, mapping: dict[str, str], dpo: bool
) -> tuple[Any, ...]:
    """Every record of ``path`` as a runtime example; DPO wants pairs, SFT anything else."""
    from hxpm.datasets.reader import assistant_spans, iter_records
    from hxpm.datasets.records import ChatRecord, PreferenceRecord, PromptCompletion
    from hxpm.runtime.recipe import (
        ChatExample,
        Example,
        PreferenceExample,
        TextExample,
    )

    out: list[Any] = []
    for number, record in iter_records(path, fmt=fmt, field_mapping=mapping or None):
        if isinstance(record, PreferenceRecord) != dpo:
            raise DatasetError(
                f"{path} line {number}: "
                + (
                    "DPO trains on preference pairs"
                    if dpo
                    else "a preference pair, but the method is sft"
                ),
                file=str(path),
                line=number,
                expected="prompt, chosen, rejected"
                if dpo
                else "text, prompt/completion, messages or instruction records",
                hint="Set training.config.method (or --method) to match the dataset, or "
                "name the pairs in training.dataset.preference_path.",
            )
        if isinstance(record, PreferenceRecord):
            out.append(PreferenceExample(record.prompt, record.chosen, record.rejected))
        elif isinstance(record, PromptCompletion):
            out.append(Example(record.prompt, record.completion))
        elif isinstance(record, ChatRecord):
            out.append(ChatExample(tuple((m.role, m.content) for m in record.messages)))
        else:
            out.append(TextExample(record.text, assistant_spans(record.text)))
    return tuple(out)
