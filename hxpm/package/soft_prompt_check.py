"""Install-time check of an expert's soft prompts against the base they will run on.

A soft prompt (``soft_prompts/<name>.safetensors``, one ``[tokens, hidden]`` tensor) only
makes sense on a base whose embeddings are ``hidden`` wide. The runtime checks it again at
attach time; checking here, from the safetensors header and the base's ``config.json``
(no torch), refuses a mismatch before anything lands in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hxpm.core.manifest_checks import is_pickle_name
from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import BaseMismatchError, PackageFormatError

from .safetensors_check import check_safetensors_header

MAX_SOFT_PROMPT_TOKENS = 512  # the older tool's schema bound
_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
_MAX_CONFIG_BYTES = 4 << 20


def declared_soft_prompts(manifest: dict[str, Any]) -> list[tuple[str, int | None]]:
    """``(path, tokens)`` of each ``soft_prompts[]`` entry (tokens None when not stated)."""
    declared = manifest.get("soft_prompts") or []
    out = []
    for entry in declared if isinstance(declared, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            tokens = entry.get("tokens")
            out.append((entry["path"], tokens if isinstance(tokens, int) else None))
    return out


def base_hidden_size(base_dir: Path) -> int | None:
    """``hidden_size`` from the base's config.json (None when it does not say)."""
    try:
        config = read_json((base_dir / "config.json").read_bytes(), max_bytes=_MAX_CONFIG_BYTES)
    except (OSError, JsonError):
        return None
    text_config = config.get("text_config") if isinstance(config, dict) else None
    for source in (config, text_config):
        value = source.get("hidden_size") if isinstance(source, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def check_soft_prompts(tree: Path, manifest: dict[str, Any], base_dir: Path, base: str) -> None:
    """Refuse declared soft prompts that are missing, malformed or sized for another base.

    Raises:
        PackageFormatError: a declared file is missing, holds not exactly one 2-D floating
            tensor, or its token count differs from the manifest's ``tokens``.
        BaseMismatchError: its width is not the base's ``hidden_size``.
    """
    hidden = base_hidden_size(base_dir)
    for path, tokens in declared_soft_prompts(manifest):
        if is_pickle_name(path):
            # The older tool's torch.save soft prompts are never packaged (a warning at
            # package/install time says how to convert them); the runtime refuses to run the
            # expert until the manifest points at a .safetensors file.
            continue
        file = tree / path
        if not file.is_file():
            raise PackageFormatError(f"soft prompt {path} is declared but not in the package")
        with file.open("rb") as f:
            header = check_safetensors_header(f, file.stat().st_size, member=path)
        if len(header.tensors) != 1:
            raise PackageFormatError(
                f"{path}: holds {len(header.tensors)} tensors, expected one [tokens, hidden]"
            )
        (tensor,) = header.tensors
        shape = tensor.shape
        if len(shape) != 2 or not 1 <= shape[0] <= MAX_SOFT_PROMPT_TOKENS:
            raise PackageFormatError(
                f"{path}: shape {list(shape)}, expected [tokens, hidden] with 1 to "
                f"{MAX_SOFT_PROMPT_TOKENS} tokens"
            )
        if tensor.dtype not in _FLOAT_DTYPES:
            raise PackageFormatError(
                f"{path}: dtype {tensor.dtype}, expected one of {', '.join(sorted(_FLOAT_DTYPES))}"
            )
        if tokens is not None and tokens != shape[0]:
            raise PackageFormatError(
                f"{path}: the manifest says {tokens} tokens but the tensor has {shape[0]}"
            )
        if hidden is not None and shape[1] != hidden:
            raise BaseMismatchError(
                f"soft prompt {path} is {shape[1]} wide but base {base} has hidden size {hidden}",
                hint="The soft prompt was trained for another base model; install the variant "
                "built for this one.",
                details={"soft_prompt_hidden": shape[1], "base_hidden": hidden},
            )
