"""``hxpm import``: turn a plain PEFT adapter folder into an expert repository.

The folder must hold ``adapter_config.json`` and ``adapter_model.safetensors`` as PEFT's
``save_pretrained`` writes them (a hub download looks the same). Everything is checked
before the expert is reported as created, without torch:

1. the config is read strictly (size cap, no duplicate keys), its fields typed, and kinds
   hxpm cannot run are refused by name (:func:`hxpm.core.adapter_config.unsupported_reasons`);
2. a pickle-only adapter (``adapter_model.bin``) is refused unread: loading a pickle runs
   code, so it must be converted to safetensors by whoever trusts it;
3. the weights are copied, then the *copy* is checked (safetensors header, tensor names,
   ranks, targets against the config), so the bytes checked are the bytes packaged.

The expert gets a schema-2.0 manifest describing the adapter (no training recipe: an
``imported`` block says where it came from), a README stub, the two adapter files copied
byte for byte, and, unless told otherwise, a Git repository with one commit, like
``hxpm new``. Anything written is removed again when a step fails.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hxpm.core import adapter_config as ac
from hxpm.core.adapter_tensors import TensorEntry, tensor_problems
from hxpm.core.versions import Version
from hxpm.errors import (
    NotFoundError,
    PackageBuildError,
    PackageFormatError,
    StoreError,
    UnsupportedAdapterError,
    UsageError,
)
from hxpm.package.layout import DEFAULT_LIMITS
from hxpm.package.safetensors_check import check_safetensors_file
from hxpm.services import scaffold
from hxpm.services.import_base import decide_base, unregistered_warning
from hxpm.services.import_manifest import imported_manifest, imported_readme
from hxpm.store.paths import StorePaths

COMMIT_MESSAGE = "Import {name} from a PEFT adapter with hxpm import"
_CONVERT_BIN_HINT = (
    "Only safetensors weights are accepted: a .bin file is a pickle, and loading it runs "
    "code. If you trust its source, convert it in Python: safetensors.torch.save_file("
    "torch.load('adapter_model.bin', weights_only=True), 'adapter_model.safetensors')."
)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What ``hxpm import`` created."""

    name: str
    version: str
    path: Path
    files: tuple[str, ...]  # relative POSIX paths, sorted
    commit: str | None  # None with git=False
    kind: str  # "lora", "dora" or "ia3"
    rank: int  # largest rank (0 for IA3)
    tensors: int
    base: scaffold.BaseChoice
    base_in_config: str | None
    source: Path
    warnings: tuple[str, ...]


def import_adapter(
    source: Path,
    *,
    name: str | None = None,
    base: str | None = None,
    version: str | None = None,
    directory: Path | None = None,
    git: bool = True,
    paths: StorePaths | None = None,
) -> ImportResult:
    """Create an expert repository from the PEFT adapter in ``source``.

    Raises:
        NotFoundError: ``source`` or its adapter files do not exist.
        UsageError: a bad name, base name or version, or a target that is not new or empty.
        UnsupportedAdapterError: an adapter kind or feature hxpm cannot run (named).
        PackageBuildError: a malformed config, a pickle-only adapter, or weights that do not
            match the config.
        StoreError: the expert could not be written (nothing is left behind).
    """
    source = source.expanduser().absolute()
    config_bytes, config = read_adapter_config(source)
    check_runnable(config, source / ac.CONFIG_FILE)
    weights = _weights_file(source)
    full_name = scaffold.expert_name(name if name is not None else derive_name(source))
    ver = str(
        Version.parse(version if version is not None else scaffold.FIRST_VERSION, field="--version")
    )
    target = (Path.cwd() / full_name if directory is None else directory.expanduser()).absolute()
    scaffold.check_target(target)
    decision = decide_base(config, base, paths or StorePaths.from_env())
    notes = [*decision.warnings, *filter(None, [unregistered_warning(decision.choice)])]
    manifest = imported_manifest(full_name, ver, config, decision, source.name)
    files = {
        "manifest.json": manifest,
        ac.CONFIG_FILE: config_bytes,
        "README.md": imported_readme(full_name, ver, config, decision, source.name),
    }
    created = scaffold.first_missing(target)
    try:
        scaffold.write_files(target, files)
        count = _copy_checked_weights(weights, target / ac.WEIGHTS_FILE, config)
        rels = sorted([*files, ac.WEIGHTS_FILE])
        commit = _commit(target, rels, full_name) if git else None
    except BaseException:
        scaffold.undo(target, created)
        raise
    return ImportResult(
        full_name,
        ver,
        target,
        tuple(rels),
        commit,
        ac.adapter_kind(config),
        ac.max_rank(config),
        count,
        decision.choice,
        decision.from_config,
        source,
        tuple(notes),
    )


def read_adapter_config(source: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes and parsed object of ``source/adapter_config.json`` (strict, capped)."""
    if not source.is_dir():
        raise NotFoundError(
            f"adapter folder {source} does not exist or is not a folder",
            hint="Give the folder PEFT's save_pretrained wrote (it holds "
            "adapter_config.json and adapter_model.safetensors).",
        )
    path = source / ac.CONFIG_FILE
    if not path.is_file():
        raise NotFoundError(
            f"{path} is missing: expected a PEFT adapter folder",
            hint="A PEFT adapter folder holds adapter_config.json and "
            "adapter_model.safetensors (model.save_pretrained(DIR)).",
        )
    try:  # one read: the bytes parsed are the bytes copied into the expert
        data = ac.read_capped(path)
        return data, ac.parse_adapter_config(data)
    except ac.AdapterConfigError as e:
        raise PackageBuildError(
            f"{path}: {e}",
            hint="adapter_config.json must be the JSON object PEFT's save_pretrained writes.",
        ) from None
    except OSError as e:
        raise StoreError(f"reading {path}: {e.strerror or e}") from None


def check_runnable(config: dict[str, Any], where: Path) -> None:
    """Refuse kinds hxpm cannot run (by name), then malformed fields."""
    reasons = ac.unsupported_reasons(config)
    if reasons:
        raise UnsupportedAdapterError(
            f"{where}: hxpm cannot run this {ac.adapter_kind(config)} adapter: "
            + "; ".join(reasons),
            hint=_unsupported_hint(config),
            details={"reasons": reasons},
        )
    problems = ac.field_problems(config)
    if problems:
        raise PackageBuildError(
            f"{where}: " + "; ".join(problems),
            hint="adapter_config.json must be the JSON object PEFT's save_pretrained writes.",
            details={"reasons": problems},
        )


def derive_name(source: Path) -> str:
    """``expert-<slug of the folder name>``, e.g. ``My_Adapter.v2`` -> ``expert-my-adapter-v2``."""
    slug = re.sub(r"[^a-z0-9]+", "-", source.name.lower()).strip("-")
    slug = slug.removeprefix("expert-")[:50].strip("-")
    if not slug or not slug[0].isalpha():
        raise UsageError(
            f"cannot derive an expert name from the folder name {source.name!r}",
            hint="Pass --name NAME (e.g. --name sql for expert-sql).",
        )
    return scaffold.PREFIX + slug


def _unsupported_hint(config: dict[str, Any]) -> str:
    init = config.get("init_lora_weights")
    if isinstance(init, str) and init.lower().startswith(("pissa", "olora", "corda")):
        return (
            "Re-save the adapter as plain LoRA with PEFT: model.save_pretrained(OUT, "
            "path_initial_model_for_weight_conversion=INITIAL_ADAPTER_DIR), where "
            "INITIAL_ADAPTER_DIR holds the adapter saved right after initialisation. "
            "See docs/import.md."
        )
    return (
        "hxpm runs LoRA, DoRA and IA3 adapters that only add to the base model; "
        "see docs/import.md for what is accepted and why."
    )


def _weights_file(source: Path) -> Path:
    path = source / ac.WEIGHTS_FILE
    if path.is_file():
        return path
    if (source / ac.PICKLE_WEIGHTS_FILE).exists():
        raise PackageBuildError(
            f"{source} holds only {ac.PICKLE_WEIGHTS_FILE} (a pickle), "
            f"expected {ac.WEIGHTS_FILE}: convert it to safetensors",
            hint=_CONVERT_BIN_HINT,
        )
    raise NotFoundError(
        f"{path} is missing",
        hint="Save the adapter with safetensors (PEFT's default: "
        "save_pretrained(DIR, safe_serialization=True)).",
    )


def _copy_checked_weights(source: Path, dest: Path, config: dict[str, Any]) -> int:
    """Copy the weights, then check the copy; returns its number of tensors."""
    size = source.stat().st_size
    limit = DEFAULT_LIMITS.max_member_size
    if size > limit:
        raise PackageBuildError(
            f"{source}: {size} bytes exceeds the {limit}-byte limit of a package member"
        )
    try:
        shutil.copyfile(source, dest)
    except OSError as e:
        raise StoreError(
            f"copying {source} to {dest}: {e.strerror or e}",
            hint="Check free space and permissions.",
        ) from None
    try:
        header = check_safetensors_file(dest, member=str(source))
    except PackageFormatError as e:
        raise PackageBuildError(
            e.message,
            hint="Re-save the adapter with PEFT or the "
            "safetensors library; this header is damaged.",
        ) from None
    entries = {t.name: TensorEntry(t.dtype, t.shape) for t in header.tensors}
    problems = tensor_problems(config, entries)
    if problems:
        raise PackageBuildError(
            f"{source} does not match {ac.CONFIG_FILE}: " + "; ".join(problems),
            hint="The weights and the config must come from the same save_pretrained call.",
            details={"reasons": problems},
        )
    return len(entries)


def _commit(root: Path, rels: list[str], name: str) -> str:
    from hxpm.index import git

    git.init_repo(root)
    return git.commit_files(root, rels, COMMIT_MESSAGE.format(name=name))
