"""Plain values the runtime takes and returns (no torch here: the CLI builds them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hxpm.errors import UsageError

from .grammar import GrammarSpec
from .rope import RopeScaling

MERGE_MODES = ("auto", "always", "never")
StopReason = str  # "eos" | "stop" | "length"


@dataclass(frozen=True, slots=True)
class BaseRef:
    """A registered base model: ``sha256`` is its registered base digest
    (docs/architecture.md §6)."""

    name: str
    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class AdapterRef:
    """One installed expert variant to attach.

    ``path`` holds ``adapter_config.json`` + ``adapter_model.safetensors`` (directly, or in
    exactly one sub-folder of an installed expert tree). ``base_sha256`` is the base digest
    the variant was built for; "" means unknown (legacy), which is not checked.
    """

    name: str
    version: str
    path: Path
    load_order: int = 0
    base_sha256: str = ""
    prompt_template: str | None = None
    # The variant's run-time fields (docs/runtime.md): soft prompt files in manifest order,
    # the RoPE scaling and the base quantization it was made for.
    soft_prompts: tuple[Path, ...] = ()
    rope_scaling: RopeScaling | None = None
    quantization: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a loaded adapter: the same name at another version is another one."""
        return (self.name, self.version, str(Path(self.path).resolve()))


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How the base is loaded: decided once per session, before any expert is attached.

    ``quantization`` is int8/int4 (quantized Linear weights), fp16/bf16 (a dtype) or None.
    ``forced``: the user chose it (``--quantize``), so experts asking for another value run
    on it anyway; otherwise an expert whose variant asks for another value is refused.
    """

    rope_scaling: RopeScaling | None = None
    quantization: str | None = None
    forced: bool = False


@dataclass(frozen=True, slots=True)
class GenerationConfig:
    """Decoding settings. ``temperature`` 0 means greedy; ``top_k`` 0 means no top-k cut."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    grammar: GrammarSpec | None = None  # constrains the answer (docs/grammar.md)

    def check(self) -> None:
        """Raise UsageError for settings no sampler can honour."""
        problems = []
        if self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            problems.append(f"temperature must be 0 (greedy) or more, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            problems.append(f"top_k must be 0 (off) or more, got {self.top_k}")
        if any(not s for s in self.stop):
            problems.append("stop sequences must not be empty strings")
        if problems:
            raise UsageError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """What one ``Session.generate`` produced.

    ``switch_s`` is the time spent by ``Session.use`` calls since the previous generation
    (attaching, evicting, merging); ``generate_s`` covers prefill and decoding.
    """

    text: str
    prompt_tokens: int
    new_tokens: int
    stopped_by: StopReason
    experts: tuple[str, ...]
    switch_s: float
    generate_s: float
    tokens_per_s: float
