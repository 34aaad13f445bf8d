"""What an `hxpm install` argument names: a local file or folder, a Git repo, or a requirement.

Order matters and is deliberate: an existing local path wins (so `./expert-sql` never goes to
the network), then anything that looks like a Git URL, then `INDEX/NAME[@SPEC]` for a
configured index, then a plain requirement (`expert-sql`, `sql@^0.3`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hxpm.core.redact import strip_url_credentials
from hxpm.core.versions import Requirement, parse_requirement
from hxpm.index.urls import GitSource, looks_like_git_url, parse_git_source
from hxpm.store.fsutil import names_existing_path


@dataclass(frozen=True, slots=True)
class LocalTarget:
    path: Path  # a .expert file or an expert directory


@dataclass(frozen=True, slots=True)
class GitTarget:
    source: GitSource
    text: str


@dataclass(frozen=True, slots=True)
class NameTarget:
    requirement: Requirement
    index: str | None = None  # set for INDEX/NAME


Target = LocalTarget | GitTarget | NameTarget


def classify(arg: str, *, index_names: Sequence[str]) -> Target:
    if names_existing_path(arg):
        return LocalTarget(Path(arg).expanduser())
    first, sep, rest = arg.partition("/")
    if sep and first in index_names and "/" not in rest:
        return NameTarget(parse_requirement(rest, field=arg), index=first)
    if looks_like_git_url(arg):
        # `text` is echoed in plans, errors and lock roots: never with a password in it.
        return GitTarget(parse_git_source(arg), strip_url_credentials(arg))
    return NameTarget(parse_requirement(arg, field="requirement"))
