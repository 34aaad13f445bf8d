"""``hxpm new``: create an expert repository from the skeleton in ``hxpm/templates/expert/``.

The skeleton ships inside the package (package data), so a wheel install finds it too.
Files are copied with ``{{placeholder}}`` substitution (values are JSON-escaped in ``.json``
files); the folder then becomes a Git repository with one commit holding every file.

Names: ``sql`` becomes ``expert-sql``. A new expert is always named ``expert-<x>`` (the
convention of docs/architecture.md §1), and its folder defaults to ``./expert-<x>``, because
an expert installed from Git is named after its repository.

Base model: ``--base NAME`` or the default base, with the digest the store registered for
it. With neither, the manifest names ``Qwen/Qwen3-0.6B`` with an empty digest, and a
``_comment`` in the variant says how to fill it in.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from hxpm.core.manifest import Manifest
from hxpm.core.names import base_slug, validate_name
from hxpm.errors import HxpmError, StoreError, UsageError
from hxpm.store.paths import StorePaths

PREFIX = "expert-"
TEMPLATE = "expert"
PLACEHOLDER_BASE = "Qwen/Qwen3-0.6B"
FIRST_VERSION = "0.1.0"
COMMIT_MESSAGE = "Create {name} with hxpm new"
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
_SKIP = ("__pycache__", ".pytest_cache")


@dataclass(frozen=True, slots=True)
class BaseChoice:
    """The base model the first variant names, and whether the store knows its digest."""

    name: str
    sha256: str  # "" when no registered base gives it
    registered: bool

    @property
    def note(self) -> str:
        if self.registered:
            return (
                f"sha256 is the digest of the base model {self.name!r} registered in "
                "your hxpm store."
            )
        return (
            f"{self.name} is not registered in your hxpm store, so sha256 is empty and "
            "hxpm cannot check the base. Run `hxpm base add NAME --path DIR` and copy "
            "the digest `hxpm base list --json` shows into sha256."
        )


@dataclass(frozen=True, slots=True)
class ScaffoldResult:
    """What ``hxpm new`` created."""

    name: str
    version: str
    path: Path
    files: tuple[str, ...]  # relative POSIX paths, sorted
    commit: str
    base: BaseChoice


def expert_name(word: str) -> str:
    """``sql`` -> ``expert-sql``; ``expert-sql`` stays. Raises UsageError for a bad name."""
    if not isinstance(word, str) or not word:
        raise UsageError(f"name: expected a name such as sql or expert-sql, got {word!r}")
    full = word if word.startswith(PREFIX) else PREFIX + word
    validate_name(full, field="name")
    short = full.removeprefix(PREFIX)
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", short):
        raise UsageError(
            f"name: expected expert-<x> where <x> is lower-case letters, digits "
            f"and single inner hyphens, got {full!r}"
        )
    return full


def choose_base(paths: StorePaths, base: str | None) -> BaseChoice:
    """``base`` or the store's default base; the placeholder base when there is neither."""
    from hxpm.services.bases import validate_base_name

    if base is not None:
        validate_base_name(base)
    if not paths.state_db.is_file():  # no store yet: do not create one just to look
        return BaseChoice(base or PLACEHOLDER_BASE, "", False)
    from hxpm.store.store import Store

    store = Store(paths)
    try:
        chosen = base or store.db.get_meta("default_base")
        registered = store.db.find_base(chosen) if chosen else None
    finally:
        store.close()
    if registered is not None:
        return BaseChoice(registered.name, registered.sha256, True)
    return BaseChoice(chosen or PLACEHOLDER_BASE, "", False)


def template_root(kind: str = TEMPLATE) -> Traversable:
    return resources.files("hxpm").joinpath("templates").joinpath(kind)


def read_template(kind: str = TEMPLATE) -> dict[str, bytes]:
    """Relative POSIX path -> bytes of every file of the skeleton ``kind``."""
    root = template_root(kind)
    if not root.is_dir():
        raise HxpmError(
            f"the {kind!r} template is missing from this hxpm installation",
            hint="Reinstall hxpm: its wheel ships hxpm/templates/.",
        )
    return dict(sorted(_walk(root, "")))


def _walk(node: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    for child in node.iterdir():
        if child.name in _SKIP or child.name.endswith((".pyc", ".pyo")):
            continue
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, rel + "/")
        else:
            yield rel, child.read_bytes()


def render(rel: str, data: bytes, values: Mapping[str, str]) -> bytes:
    """Substitute ``{{key}}`` in a UTF-8 template; JSON-escape values in ``.json`` files."""
    as_json = rel.endswith(".json")

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise HxpmError(
                f"template {rel}: unknown placeholder {{{{{key}}}}}",
                hint="Known: " + ", ".join(sorted(values)),
            )
        return json.dumps(values[key])[1:-1] if as_json else values[key]

    return _PLACEHOLDER_RE.sub(substitute, data.decode("utf-8")).encode("utf-8")


def placeholder_values(name: str, base: BaseChoice) -> dict[str, str]:
    return {
        "name": name,
        "short_name": name.removeprefix(PREFIX),
        "base_model": base.name,
        "base_sha256": base.sha256,
        "base_slug": base_slug(base.name),
        "base_note": base.note,
        "year": str(datetime.now(UTC).year),
    }


def render_expert(name: str, base: BaseChoice) -> dict[str, bytes]:
    """Every file of a new expert, rendered, with its manifest checked before any write."""
    values = placeholder_values(name, base)
    files = {rel: render(rel, data, values) for rel, data in read_template().items()}
    manifest = Manifest.from_bytes(files["manifest.json"], source="template manifest.json")
    if manifest.name != name or str(manifest.version) != FIRST_VERSION:
        raise HxpmError(
            f"template manifest.json names {manifest.name} {manifest.version}, "
            f"expected {name} {FIRST_VERSION}"
        )
    return files


def check_target(path: Path) -> None:
    """Refuse a file, or a folder that already holds anything."""
    if path.is_dir():
        entries = sorted(p.name for p in path.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise UsageError(
                f"expected a new or empty folder, got {path} holding {shown}",
                hint="Pick another --dir, or remove what is there.",
            )
    elif path.exists() or path.is_symlink():
        raise UsageError(
            f"expected a folder, got the existing file {path}", hint="Pick another --dir."
        )


def new_expert(
    word: str,
    *,
    base: str | None = None,
    directory: Path | None = None,
    paths: StorePaths | None = None,
) -> ScaffoldResult:
    """Create the expert ``word`` in ``directory`` (default ``./<name>``) and commit it.

    Raises:
        UsageError: a bad name or base name, or a target that is a file or not empty.
        StoreError: a file or the repository could not be written (nothing is left behind).
    """
    name = expert_name(word)
    target = Path.cwd() / name if directory is None else directory.expanduser()
    target = target.absolute()
    check_target(target)
    choice = choose_base(paths or StorePaths.from_env(), base)
    files = render_expert(name, choice)
    created = first_missing(target)
    try:
        write_files(target, files)
        commit = _commit(target, sorted(files), name)
    except BaseException:
        undo(target, created)
        raise
    return ScaffoldResult(name, FIRST_VERSION, target, tuple(sorted(files)), commit, choice)


def first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None: it exists)."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def write_files(root: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if data.startswith(b"#!"):  # scripts: executable, as Git will record them
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as exc:
            raise StoreError(
                f"writing {path}: {exc.strerror or exc}", hint="Check free space and permissions."
            ) from None


def _commit(root: Path, rels: list[str], name: str) -> str:
    from hxpm.index import git

    git.init_repo(root)
    return git.commit_files(root, rels, COMMIT_MESSAGE.format(name=name))


def undo(target: Path, created: Path | None) -> None:
    """Remove what ``new_expert`` wrote: the folders it created, or the contents it added."""
    from hxpm.store.fsutil import remove_tree

    with suppress(OSError):  # the original error matters more than a failed clean-up
        if created is not None:
            remove_tree(created)
        elif target.is_dir():
            for entry in list(target.iterdir()):
                remove_tree(entry)
