"""What vLLM accepts for LoRA serving, and the `vllm serve` command line for a set of adapters.

Torch-free and I/O-free: ``hxpm export vllm`` (services/export.py) feeds it adapter configs
and module paths. What this module relies on, as read in vLLM's sources (vllm-project/vllm):

- ``--lora-modules`` (``LoRAParserAction`` in ``vllm/entrypoints/openai/cli_args.py``) takes
  one or more values (``nargs='+'``); a value holding ``=`` and no ``,`` is ``name=path``,
  any other value must be one JSON object whose keys are ``LoRAModulePath`` fields
  (``name``, ``path``, optional ``base_model_name``). A JSON *array* is not accepted.
- ``--max-lora-rank`` must be one of a fixed set of ranks (slots are pre-allocated per
  rank). The set grew over releases: (8, 16, 32, 64) in the first LoRA releases, then 128
  and 256, then 320 and 512 (a tuple checked in ``LoRAConfig.__post_init__``); the current
  ``vllm/config/lora.py`` declares ``MaxLoRARanks`` as a ``Literal`` that also admits 1.
  The default is 16.
- ``--max-loras`` is how many adapters one batch may use (default 1), not a cap on how many
  modules may be registered: the others wait in the CPU-side adapter cache.
- ``PEFTHelper`` (``vllm/lora/peft_helper.py``) refuses DoRA, ``modules_to_save``, ``bias``
  other than "none", ``lora_bias`` and initialisations that rewrite the base weights (PiSSA,
  OLoRA, CorDA, LoftQ), and checks the largest of ``r`` and the ``rank_pattern`` values
  against ``max_lora_rank``. Only recent releases read ``rank_pattern``/``alpha_pattern``;
  older ones scale every module by ``lora_alpha / r``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hxpm.core.adapter_config import adapter_kind, field_problems, unsupported_reasons

# Every --max-lora-rank value some vLLM release accepts (see the module docstring).
VLLM_ALLOWED_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# What hxpm recommends: 1 is refused by all but recent releases, 8 is accepted by every one.
_PORTABLE_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
VLLM_LARGEST_RANK = _PORTABLE_RANKS[-1]


@dataclass(frozen=True, slots=True)
class LoraModule:
    """One ``--lora-modules`` entry."""

    name: str
    path: str
    base_model_name: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path, "base_model_name": self.base_model_name}

    def argument(self) -> str:
        """The value as vLLM parses it: one compact JSON object."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def vllm_refusals(config: Mapping[str, Any]) -> list[str]:
    """Why vLLM would refuse to load this adapter config (``[]`` when it would load it)."""
    kind = adapter_kind(config)
    if kind == "dora":
        return ["DoRA (use_dora=true): vLLM serves plain LoRA only"]
    if kind != "lora":
        peft_type = config.get("peft_type")
        return [f"{kind.upper()} adapter (peft_type={peft_type!r}): vLLM serves LoRA only"]
    return field_problems(config) + unsupported_reasons(config)


def uses_patterns(config: Mapping[str, Any]) -> bool:
    """Whether the config scales modules differently (older vLLM releases ignore this)."""
    return any(
        isinstance(config.get(k), Mapping) and config[k] for k in ("rank_pattern", "alpha_pattern")
    )


def smallest_max_lora_rank(rank: int) -> int | None:
    """The smallest ``--max-lora-rank`` every vLLM release accepts that fits ``rank``."""
    return next((r for r in _PORTABLE_RANKS if r >= rank), None)


def check_max_lora_rank(value: int) -> str | None:
    """None if vLLM accepts ``--max-lora-rank value``, else what it expects."""
    if value in VLLM_ALLOWED_MAX_LORA_RANKS:
        return None
    allowed = ", ".join(str(r) for r in VLLM_ALLOWED_MAX_LORA_RANKS)
    return f"--max-lora-rank {value}: vLLM accepts only {allowed}"


def serve_argv(
    model: str,
    served_name: str,
    modules: Sequence[LoraModule],
    *,
    max_lora_rank: int,
    max_loras: int,
) -> list[str]:
    """``vllm serve`` with LoRA enabled and ``modules`` registered, as an argument list.

    ``--served-model-name`` makes vLLM call the base what the modules' ``base_model_name``
    says (otherwise it is named after its path).
    """
    argv = [
        "vllm",
        "serve",
        model,
        "--served-model-name",
        served_name,
        "--enable-lora",
        "--max-lora-rank",
        str(max_lora_rank),
        "--max-loras",
        str(max_loras),
    ]
    if modules:
        argv += ["--lora-modules", *(m.argument() for m in modules)]
    return argv


def shell_command(argv: Sequence[str]) -> str:
    """``argv`` as one POSIX shell command, each word quoted.

    Each option starts a line, and so does each ``--lora-modules`` value (continued with a
    backslash), so that the command stays readable and still pastes as one.
    """
    lines: list[str] = []
    in_modules = False
    for word in argv:
        quoted = shlex.quote(word)
        if word.startswith("--"):
            in_modules = word == "--lora-modules"
            lines.append("  " + quoted)
        elif in_modules:
            lines.append("    " + quoted)
        elif lines:
            lines[-1] += " " + quoted
        else:
            lines.append(quoted)
    return " \\\n".join(lines)


def unprintable(text: str) -> bool:
    """Control characters would reach the terminal raw even inside shell quotes."""
    return any(not ch.isprintable() for ch in text)
