"""Base models, metadata only: register a local directory by its digest (no torch import)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from hxpm.core.digest import base_model_digest, base_model_files
from hxpm.core.names import base_slug
from hxpm.errors import HxpmError, NetworkError, NotFoundError, RuntimeMissingError, UsageError
from hxpm.services.basematch import match_base
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.state import utc_now
from hxpm.store.store import Store
from hxpm.transport import require_online

_BASE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


@dataclass(frozen=True, slots=True)
class BaseAdded:
    base: BaseModel
    # Experts installed before any registered base matched them, now recorded under this one.
    rematched: tuple[InstalledExpert, ...] = ()
    left: tuple[str, ...] = ()  # unmatched experts this base could not take, and why


def validate_base_name(name: str) -> str:
    if not _BASE_NAME_RE.fullmatch(name) or ".." in name.split("/"):
        raise UsageError(
            f"base name: expected a model id such as Qwen/Qwen3-0.6B (letters, digits, "
            f"'.', '_', '-', '/'), got {name!r}",
            hint=_path_hint(name),
        )
    return name


def _path_hint(name: str) -> str | None:
    # Legacy manifests name their base by a local path (F:/Node/.../Qwen3-0.6B); users copy
    # that here. They never need to: a model id with the same last path part matches it.
    if not (":" in name or "\\" in name or name.startswith(("/", "~", "."))):
        return None
    last = re.split(r"[\\/]", name.rstrip("/\\"))[-1] or "MODEL"
    return (
        f"That looks like a local path: give the model id as NAME and the folder as "
        f"--path, e.g. `hxpm base add ORG/{last} --path {name}`. Experts whose manifest "
        f"names a path ending in {last} then match it by last path part."
    )


# Weights only as safetensors: a hub repo's pickles (*.bin, *.pt) are never downloaded.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "LICENSE*", "*.md"]


def add_base_from_hub(
    store: Store, name: str, repo_id: str, *, revision: str | None = None
) -> BaseAdded:
    """Download a model from the Hugging Face Hub into the store, then register it."""
    validate_base_name(name)
    require_online(f"downloading {repo_id} from the Hugging Face Hub")
    try:
        import huggingface_hub
        from huggingface_hub import errors as hf_errors
    except ImportError:
        raise RuntimeMissingError(
            "--from-hub needs huggingface_hub (part of the runtime extra)"
        ) from None
    target = store.paths.root / "models" / base_slug(repo_id)
    try:
        huggingface_hub.snapshot_download(
            repo_id, revision=revision, local_dir=target, allow_patterns=HUB_PATTERNS
        )
    except hf_errors.RepositoryNotFoundError:
        raise NotFoundError(f"the Hugging Face Hub has no model {repo_id!r}") from None
    except (hf_errors.HfHubHTTPError, hf_errors.LocalEntryNotFoundError, OSError) as e:
        raise NetworkError(
            f"downloading {repo_id} failed: {str(e).splitlines()[0][:200]}",
            hint="Check your network, or download the model yourself and "
            f"use `hxpm base add {name} --path DIR`.",
        ) from None
    return add_base(store, name, target, source=f"hub:{repo_id}")


def add_base(store: Store, name: str, path: Path, *, source: str = "local") -> BaseAdded:
    """Register a Hugging Face-format directory; the first base becomes the default.

    Installed experts that no registered base matched (recorded under their manifest's base
    name) are matched again, and those this base matches are recorded under it.
    """
    validate_base_name(name)
    path = path.expanduser().resolve()
    if not (path / "config.json").is_file():
        raise NotFoundError(
            f"{path} is not a model directory: expected config.json in it",
            hint="Point --path at a Hugging Face-format model folder "
            "(config.json + *.safetensors).",
        )
    if not any(p.suffix == ".safetensors" for p in base_model_files(path)):
        raise NotFoundError(f"{path} holds no *.safetensors weights")
    base = BaseModel(name, path, base_model_digest(path), utc_now(), source)
    with store.writing(), store.db.transaction() as conn:
        store.db.put_base(conn, base)
        if store.db.get_meta("default_base") is None:
            store.db.set_meta(conn, "default_base", name)
        rematched, left = _rematch_unregistered(store, conn, name)
    return BaseAdded(store.db.find_base(name) or base, tuple(rematched), tuple(left))


def _rematch_unregistered(
    store: Store, conn: sqlite3.Connection, name: str
) -> tuple[list[InstalledExpert], list[str]]:
    """Record under ``name`` the unmatched installed experts it now matches (same
    transaction as the registration)."""
    bases = store.db.bases()  # the new base is visible inside the open transaction
    registered = {b.name for b in bases}
    rematched: list[InstalledExpert] = []
    left: list[str] = []
    for e in store.db.installed():
        if e.base_model in registered:
            continue
        label = f"{e.name} {e.version} ({e.manifest_base_name})"
        try:
            match = match_base(e.manifest_base_name, e.base_sha256, bases)
        except HxpmError as err:
            left.append(f"{label}: {err.message}")
            continue
        if match.base is None or match.base.name != name:
            continue
        if store.db.find_installed(e.name, e.version, name) is not None:
            left.append(f"{label}: {e.name} {e.version} is already installed for {name}")
            continue
        store.db.rebase_installed(conn, e, name, match.kind)
        rematched.append(e)
    return rematched, left


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
        raise NotFoundError(
            f"no base model named {name!r} (registered: {known})",
            hint="Register one with `hxpm base add NAME --path DIR`.",
        )
    return base
