"""Load a registered base model (after checking its digest) and its tokenizer, offline."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hxpm.core.digest import base_model_digest, base_model_files, digests_equal
from hxpm.errors import InferenceError, IntegrityError, NotFoundError

from . import quantize as quant
from .quiet import library_output
from .refs import BaseRef, LoadOptions
from .rope import apply_rope_scaling


def verify_base(base: BaseRef) -> str:
    """Recompute the base digest of ``base.path`` and compare it with the registered one.

    Returns the digest. An empty ``base.sha256`` (nothing registered) is not compared.

    Raises:
        NotFoundError: the folder, its config.json or its safetensors files are missing.
        IntegrityError: the files differ from the registered digest.
    """
    path = Path(base.path)
    if not path.is_dir():
        raise NotFoundError(
            f"base model {base.name}: folder {path} does not exist",
            hint="Register it again with `hxpm base add NAME --path DIR`.",
        )
    files = base_model_files(path)
    if not (path / "config.json").is_file():
        raise NotFoundError(f"base model {base.name}: {path} has no config.json")
    if not any(f.suffix == ".safetensors" for f in files):
        raise NotFoundError(f"base model {base.name}: {path} has no *.safetensors weights")
    try:
        digest = base_model_digest(path)
    except OSError as e:
        raise NotFoundError(
            f"base model {base.name}: cannot read {e.filename}: {e.strerror}"
        ) from None
    if base.sha256 and not digests_equal(digest, base.sha256.lower()):
        raise IntegrityError(
            f"base model {base.name}: base files differ from the registered digest "
            f"(expected {base.sha256}, got {digest})",
            hint="The model folder changed since `hxpm base add`; restore it, or register it "
            "again if the change is intended (experts built for the old digest will "
            "then be refused).",
            details={"expected": base.sha256, "actual": digest, "path": str(path)},
        )
    return digest


def quiet_transformers() -> contextlib.AbstractContextManager[None]:
    """Library warnings, logs and progress bars go to the debug log while loading
    (``HXPM_DEBUG=1`` shows them). Library code never prints (docs/architecture.md §10)."""
    return library_output()


def load_tokenizer(base: BaseRef) -> Any:
    """The base folder's tokenizer (``local_files_only``: never touches a model hub)."""
    from transformers import AutoTokenizer

    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(str(base.path), local_files_only=True)
    # The tokenizers library raises plain Exception for a tokenizer.json it cannot parse
    # ("data did not match any variant of untagged enum ..."): nothing narrower catches it.
    except Exception as e:  # noqa: BLE001
        raise InferenceError(
            f"base model {base.name}: cannot load its tokenizer from {base.path}: {_first_line(e)}",
            hint="The folder needs tokenizer.json (or the files of a "
            "slow tokenizer) and tokenizer_config.json.",
        ) from None


def load_model(
    base: BaseRef,
    device: torch.device,
    dtype: torch.dtype,
    configure: Callable[[Any], None] | None = None,
) -> torch.nn.Module:
    """The causal LM in ``base.path`` on ``device`` in ``dtype``, in eval mode, frozen.

    ``configure`` may change the model config before the model is built (RoPE scaling).
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    # transformers 4.56 renamed torch_dtype to dtype; older ones take an unknown keyword for a
    # config attribute and would silently load float32.
    dtype_kw = "dtype" if _transformers_at_least(4, 56) else "torch_dtype"
    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(str(base.path), local_files_only=True)
            if configure is not None:
                configure(config)
            model: torch.nn.Module = AutoModelForCausalLM.from_pretrained(
                str(base.path), config=config, local_files_only=True, **{dtype_kw: dtype}
            )
        model.to(device)
    except torch.cuda.OutOfMemoryError:
        raise InferenceError(
            f"base model {base.name} does not fit in {device} memory",
            hint="Use --device cpu, or free GPU memory.",
        ) from None
    except _model_load_errors() as e:
        raise InferenceError(
            f"base model {base.name}: cannot load it from {base.path}: {_first_line(e)}"
        ) from None
    model.eval()
    # Inference only: no autograd bookkeeping on the base (adapters are frozen when attached).
    model.requires_grad_(False)
    return model


def load_base(
    base: BaseRef, device: torch.device, dtype: torch.dtype, options: LoadOptions
) -> tuple[Any, int]:
    """The base with ``options`` applied (RoPE scaling, quantization) and its effective
    context length (0: the config does not say)."""
    mode, scaling = options.quantization, options.rope_scaling
    quantized = mode in quant.QUANTIZE_CHOICES
    if quantized:
        with library_output():  # torchao logs which optional kernels it could not load
            quant.check_backend(str(mode))
    context = 0

    def configure(config: Any) -> None:
        nonlocal context
        if scaling is not None:
            context = apply_rope_scaling(config, scaling, base.name)

    model = load_model(base, device, dtype, configure)
    if quantized:
        with library_output():
            quant.quantize_model(model, str(mode))
    return model, context or int(getattr(model.config, "max_position_embeddings", 0) or 0)


def _model_load_errors() -> tuple[type[BaseException], ...]:
    """What a broken base folder makes ``from_pretrained`` raise (seen on real broken copies).

    OSError: missing or unreadable files, or config.json that is not JSON; ValueError: an
    unknown model_type; RuntimeError: weights whose shapes disagree with config.json;
    KeyError, TypeError, AttributeError: config values of the wrong kind;
    SafetensorError: a damaged weights file; huggingface_hub's StrictDataclassError (newer
    transformers validate config fields with it).
    """
    from safetensors import SafetensorError

    errors: tuple[type[BaseException], ...] = (
        OSError,
        ValueError,
        RuntimeError,
        KeyError,
        TypeError,
        AttributeError,
        SafetensorError,
    )
    try:
        from huggingface_hub.errors import StrictDataclassError
    except ImportError:  # older huggingface_hub: configs are not validated there
        return errors
    return (*errors, StrictDataclassError)


def _transformers_at_least(major: int, minor: int) -> bool:
    import transformers

    parts = transformers.__version__.split(".")
    return (int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)) >= (major, minor)


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
