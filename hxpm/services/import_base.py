"""Which base model an imported PEFT adapter names, and its registered digest.

PEFT records ``base_model_name_or_path`` as given to ``from_pretrained``: a hub id such as
``Qwen/Qwen3-0.6B`` or a local folder (``/home/me/models/qwen3``), which means nothing on
another machine. A local path is matched against the bases registered in the store: the
same folder, else the rule installs use for manifests naming a folder (same name, then the
same last path part; :mod:`hxpm.services.basematch`); failing that, its last part becomes
the base name, with a warning. ``--base`` always wins.

The digest comes from the store when the chosen name is registered there, so that installs
check the base; otherwise it stays empty, with a warning saying how to fill it in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from hxpm.services.scaffold import PLACEHOLDER_BASE, BaseChoice
from hxpm.store.paths import StorePaths
from hxpm.store.records import BaseModel

_LOCAL_PATH_RE = re.compile(r"^(/|~|\.{1,2}[/\\]|[A-Za-z]:[/\\])|\\")


@dataclass(frozen=True, slots=True)
class BaseDecision:
    """The base the manifest names, and what the user should know about the choice."""

    choice: BaseChoice
    from_config: str | None  # what adapter_config.json said, if anything
    warnings: tuple[str, ...]


def is_local_path(value: str) -> bool:
    """``/abs``, ``~/x``, ``./x``, ``../x``, ``C:\\x``, anything with a backslash or more
    than one ``/`` (a hub id is ``org/name``), or an existing folder (``models/qwen3``)."""
    if _LOCAL_PATH_RE.search(value) is not None or value.count("/") > 1:
        return True
    try:
        return Path(value).is_dir()
    except (OSError, ValueError):
        return False


def last_part(value: str) -> str:
    """The final path component of a POSIX or Windows path."""
    path = PureWindowsPath(value) if "\\" in value else PurePosixPath(value)
    return path.name


def decide_base(config: dict[str, Any], given: str | None, paths: StorePaths) -> BaseDecision:
    """The base for the manifest: ``given``, else what the config names (see module doc)."""
    from hxpm.services.bases import validate_base_name

    raw = config.get("base_model_name_or_path")
    named = raw.strip() if isinstance(raw, str) and raw.strip() else None
    registered = _registered_bases(paths)
    warnings: list[str] = []
    if given is not None:
        validate_base_name(given)
        if named is not None and named != given and not _same_base(named, given, registered):
            warnings.append(
                f"adapter_config.json says the adapter was made on {named!r}; "
                f"the manifest names {given!r} as you asked"
            )
        return BaseDecision(_choice(given, registered), named, tuple(warnings))
    if named is None:
        default = next((b for b in registered if b.is_default), None)
        name = default.name if default is not None else PLACEHOLDER_BASE
        warnings.append(
            f"adapter_config.json names no base model; using {name!r} (pass --base NAME to choose)"
        )
        return BaseDecision(_choice(name, registered), None, tuple(warnings))
    if is_local_path(named):
        name, note = _name_for_local_path(named, registered)
        warnings.append(note)
    else:
        name = named
    validate_base_name(name)
    return BaseDecision(_choice(name, registered), named, tuple(warnings))


def unregistered_warning(choice: BaseChoice) -> str | None:
    if choice.registered:
        return None
    return (
        f"base {choice.name!r} is not registered in your hxpm store, so the manifest's "
        "sha256 is empty and installs cannot check the base; register it "
        "(hxpm base add NAME --path DIR) and import again, or fill in the digest"
    )


def _registered_bases(paths: StorePaths) -> list[BaseModel]:
    if not paths.state_db.is_file():  # no store yet: do not create one just to look
        return []
    from hxpm.store.store import Store

    store = Store(paths)
    try:
        return store.db.bases()
    finally:
        store.close()


def _choice(name: str, registered: Sequence[BaseModel]) -> BaseChoice:
    found = next((b for b in registered if b.name == name), None)
    if found is not None:
        return BaseChoice(found.name, found.sha256, True)
    return BaseChoice(name, "", False)


def _same_base(named: str, given: str, registered: Sequence[BaseModel]) -> bool:
    if not is_local_path(named):
        return False
    return _match_local_path(named, registered) == given or last_part(named) == last_part(given)


def _name_for_local_path(named: str, registered: Sequence[BaseModel]) -> tuple[str, str]:
    match = _match_local_path(named, registered)
    if match is not None:
        return match, (
            f"adapter_config.json names the local folder {named!r}; it matches "
            f"the registered base {match!r}"
        )
    name = last_part(named)
    return name, (
        f"adapter_config.json names the local folder {named!r}; using its last "
        f"part {name!r} as the base name (pass --base NAME to choose, e.g. the "
        "hub id of the model it was made on)"
    )


def _match_local_path(named: str, registered: Sequence[BaseModel]) -> str | None:
    """A registered base in the same folder, else the one the install-time rule picks for
    a manifest naming this folder (same name, then same last part: services/basematch)."""
    from hxpm.services.basematch import matching_bases

    try:
        folder = Path(named).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        folder = None
    for base in registered:
        try:
            if folder is not None and Path(base.path).resolve() == folder:
                return base.name
        except (OSError, RuntimeError):
            continue
    found = matching_bases(named, "", registered)
    return found[0].name if len(found) == 1 else None  # ambiguous: the user says --base
