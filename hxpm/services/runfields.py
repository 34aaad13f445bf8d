"""The run-time fields of an installed variant, read from its manifest for the runtime.

``soft_prompts[]`` (files inside the installed tree), ``rope_scaling`` and ``quantization``
of the variant (docs/runtime.md). The runtime is imported lazily, as everywhere in services.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hxpm.core.manifest_checks import is_pickle_name, soft_prompt_pickle_message
from hxpm.errors import ManifestError, RuntimeMissingError
from hxpm.package.layout import SOFT_PROMPT_RE
from hxpm.store.records import InstalledExpert

if TYPE_CHECKING:
    from hxpm.runtime.refs import LoadOptions


def variant_of(expert: InstalledExpert) -> dict[str, Any]:
    """The installed manifest's one base-model variant (an empty dict when it has none)."""
    m = expert.manifest
    variants = m.get("base_models") or [m.get("base_model") or {}]
    return next((v for v in variants if isinstance(v, dict)), {})


def variant_fields(expert: InstalledExpert) -> dict[str, Any]:
    """``soft_prompts``, ``rope_scaling`` and ``quantization`` keyword values for AdapterRef.

    Raises:
        ManifestError: a malformed field, or a soft prompt path outside ``soft_prompts/``.
    """
    from hxpm.runtime.quantize import normalize
    from hxpm.runtime.rope import parse_rope_scaling

    label = f"expert {expert.name}@{expert.version}"
    variant = variant_of(expert)
    return {
        "soft_prompts": soft_prompt_paths(expert, label),
        "rope_scaling": parse_rope_scaling(variant.get("rope_scaling"), label),
        "quantization": normalize(variant.get("quantization"), label),
    }


def soft_prompt_paths(expert: InstalledExpert, label: str) -> tuple[Path, ...]:
    """The declared soft prompt files, in manifest order, inside the installed tree."""
    declared = expert.manifest.get("soft_prompts") or []
    if not isinstance(declared, list):
        raise ManifestError(f"{label}: soft_prompts must be a list")
    root = Path(expert.path)
    paths = []
    for index, entry in enumerate(declared):
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and is_pickle_name(path):
            raise ManifestError(f"{label}: {soft_prompt_pickle_message(path)}")
        if not isinstance(path, str) or not SOFT_PROMPT_RE.match(path):
            raise ManifestError(
                f"{label}: soft_prompts[{index}].path {path!r} is not "
                "soft_prompts/<name>.safetensors",
                hint="Soft prompts are safetensors files in the package's soft_prompts/ folder.",
            )
        paths.append(root / path)
    return tuple(paths)


def load_options(experts: Sequence[InstalledExpert], quantize: str | None) -> LoadOptions:
    """How to load the base for ``experts`` (``quantize``: the ``--quantize`` option).

    Raises:
        RuntimeMissingError: the runtime extra is not installed.
        InferenceError: the experts disagree on RoPE scaling or quantization.
    """
    try:
        from hxpm.runtime.fields import options_for
        from hxpm.runtime.refs import AdapterRef
    except ImportError as e:
        raise RuntimeMissingError(
            f"this command needs the hxpm runtime ({e.name} is not installed)"
        ) from None
    refs = [AdapterRef(e.name, e.version, Path(e.path), **variant_fields(e)) for e in experts]
    return options_for(refs, quantize)
