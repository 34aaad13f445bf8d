"""Base models, metadata only: register a local directory by its digest (no torch import)."""

from __future__ import annotations

import re
from pathlib import Path

from hxpm.core.digest import base_model_digest, base_model_files
from hxpm.core.names import base_slug
from hxpm.errors import NetworkError, NotFoundError, RuntimeMissingError, UsageError
from hxpm.transport import require_online
from hxpm.store.records import BaseModel
from hxpm.store.state import utc_now
from hxpm.store.store import Store

_BASE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


def validate_base_name(name: str) -> str:
    if not _BASE_NAME_RE.fullmatch(name) or ".." in name.split("/"):
        raise UsageError(
            f"base name: expected a model id such as Qwen/Qwen3-0.6B (letters, digits, "
            f"'.', '_', '-', '/'), got {name!r}"
        )
    return name


# Weights only as safetensors: a hub repo's pickles (*.bin, *.pt) are never downloaded.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "LICENSE*", "*.md"]


def add_base_from_hub(store: Store, name: str, repo_id: str, *, revision: str | None = None
                      ) -> BaseModel:
    """Download a model from the Hugging Face Hub into the store, then register it."""
    validate_base_name(name)
    require_online(f"downloading {repo_id} from the Hugging Face Hub")
    try:
        import huggingface_hub
        from huggingface_hub import errors as hf_errors
    except ImportError:
        raise RuntimeMissingError("--from-hub needs huggingface_hub (part of the runtime "
                                  "extra)") from None
    target = store.paths.root / "models" / base_slug(repo_id)
    try:
        huggingface_hub.snapshot_download(repo_id, revision=revision, local_dir=target,
                                          allow_patterns=HUB_PATTERNS)
    except hf_errors.RepositoryNotFoundError:
        raise NotFoundError(f"the Hugging Face Hub has no model {repo_id!r}") from None
    except (hf_errors.HfHubHTTPError, hf_errors.LocalEntryNotFoundError, OSError) as e:
        raise NetworkError(f"downloading {repo_id} failed: {str(e).splitlines()[0][:200]}",
                           hint="Check your network, or download the model yourself and "
                           f"use `hxpm base add {name} --path DIR`.") from None
    return add_base(store, name, target, source=f"hub:{repo_id}")


def add_base(store: Store, name: str, path: Path, *, source: str = "local") -> BaseModel:
    """Register a Hugging Face-format directory; the first base becomes the default."""
    validate_base_name(name)
    path = path.expanduser().resolve()
    if not (path / "config.json").is_file():
        raise NotFoundError(
            f"{path} is not a model directory: expected config.json in it",
            hint="Point --path at a Hugging Face-format model folder (config.json + *.safetensors).",
        )
    if not any(p.suffix == ".safetensors" for p in base_model_files(path)):
        raise NotFoundError(f"{path} holds no *.safetensors weights")
    base = BaseModel(name, path, base_model_digest(path), utc_now(), source)
    with store.writing(), store.db.transaction() as conn:
        store.db.put_base(conn, base)
        if store.db.get_meta("default_base") is None:
            store.db.set_meta(conn, "default_base", name)
    return store.db.find_base(name) or base


def list_bases(store: Store) -> list[BaseModel]:
    return store.db.bases()


def set_default_base(store: Store, name: str) -> BaseModel:
    with store.writing():
        base = _require(store, name)
        with store.db.transaction() as conn:
            store.db.set_meta(conn, "default_base", name)
    return BaseModel(base.name, base.path, base.sha256, base.added_at, base.source, True)


def remove_base(store: Store, name: str) -> BaseModel:
    with store.writing():
        base = _require(store, name)
        with store.db.transaction() as conn:
            store.db.delete_base(conn, name)
            if base.is_default:
                store.db.set_meta(conn, "default_base", None)
    return base


def _require(store: Store, name: str) -> BaseModel:
    base = store.db.find_base(name)
    if base is None:
        known = ", ".join(b.name for b in store.db.bases()) or "none"
        raise NotFoundError(f"no base model named {name!r} (registered: {known})",
                            hint="Register one with `hxpm base add NAME --path DIR`.")
    return base
