"""Expert names, base-model slugs and package file names (docs/architecture.md §1, §3)."""

from __future__ import annotations

import re

from hxpm.errors import UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
NAME_EXPECTATION = "a lower-case name matching ^[a-z][a-z0-9-]{0,63}$ (e.g. expert-sql)"
PACKAGE_SUFFIX = ".expert"


def is_valid_name(value: object) -> bool:
    return isinstance(value, str) and NAME_RE.fullmatch(value) is not None


def validate_name(value: object, *, field: str = "name") -> str:
    """Return ``value`` if it is a valid expert name, else raise UsageError naming the field."""
    if not is_valid_name(value):
        raise UsageError(f"{field}: expected {NAME_EXPECTATION}, got {value!r}")
    assert isinstance(value, str)
    return value


def name_candidates(short: str) -> tuple[str, ...]:
    """Names a command-line word may mean: ``sql`` also finds ``expert-sql``."""
    if short.startswith("expert-"):
        return (short,)
    return (short, f"expert-{short}")


def base_slug(base_model: str) -> str:
    """Last path part of a base model name, lower-cased, ``.``/``_`` turned into ``-``.

    ``Qwen/Qwen3-0.6B`` -> ``qwen3-0-6b``. Windows separators count as path separators so
    that legacy manifests naming a local path still give a clean slug.
    """
    last = re.split(r"[\\/]", base_model.rstrip("/\\"))[-1]
    slug = re.sub(r"[._]", "-", last.lower())
    slug = re.sub(r"[^a-z0-9-]", "-", slug).strip("-")
    if not slug:
        raise UsageError(f"base model: expected a name with a final path part, got {base_model!r}")
    return slug


def package_filename(name: str, base_model: str, version: str) -> str:
    """``{name}-{base-slug}.v{version}.expert`` (docs/architecture.md §3)."""
    return f"{name}-{base_slug(base_model)}.v{version}{PACKAGE_SUFFIX}"
