"""Token counts under a base model's tokenizer; the only module that imports ``tokenizers``.

Why ``tokenizers`` on ``tokenizer.json`` and not ``transformers.AutoTokenizer``: transformers
imports torch (seconds of start-up, and the light ``dataset`` commands must never load the
runtime, tests/cli/test_dataset_cmd.py checks it), while the Rust tokenizer reads the same
file and gives the same ids for the text itself. Special tokens written in the text (ChatML
markers) are matched as the tokenizer's added tokens, as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hxpm.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAX_TOKENIZER_BYTES = 64 << 20  # Qwen3's tokenizer.json is 11 MB


class TokenCounter:
    """``count(texts)`` -> token counts, without the special tokens a template would add."""

    def __init__(self, source: Path) -> None:
        self.path = source / "tokenizer.json" if source.is_dir() else source
        self._tokenizer = _load(self.path)

    def count(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


def _load(path: Path) -> Tokenizer:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(
            f"{path}: no tokenizer.json",
            hint="Pass --tokenizer DIR (a folder with tokenizer.json) or --base NAME.",
        ) from None
    if size > MAX_TOKENIZER_BYTES:
        raise UsageError(f"{path}: {size} bytes, over the {MAX_TOKENIZER_BYTES}-byte limit")
    from tokenizers import Tokenizer  # imported when token counts are asked for

    try:
        return Tokenizer.from_str(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception
        raise UsageError(
            f"{path}: not a tokenizer.json the tokenizers library can load ({str(exc)[:200]})"
        ) from None
