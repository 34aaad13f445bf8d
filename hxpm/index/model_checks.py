"""Strict field readers and predicates behind :mod:`hxpm.index.model` and
:mod:`hxpm.index.config` (docs/architecture.md §5).

Index data comes from a Git repository that anyone may have written to, so every value is
checked before it is used, and the first problem raises one :class:`IndexDataError` that
names where it was found (``experts/ex/pe/expert-sql line 3``), the field
(``variants[0].sha256``), the value and what was expected. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hxpm.core.versions import Requirement, Version, parse_requirement
from hxpm.errors import HxpmError, IndexDataError

if TYPE_CHECKING:  # checking a line imports these; reading a verified record does not
    from hxpm.package.signing import Statement

# Printed as the value of a field that is absent (kept apart from an explicit null).
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
MAX_DEPTH = 32  # lines and configs are flat; deeper nesting is hostile or broken
MAX_URL_CHARS = 2048
MAX_TAG_CHARS = 255
MAX_PATH_CHARS = 1024
HINT = (
    "The index holds malformed data; tell its maintainer. `hxpm index update` fetches a "
    "fixed copy, and `hxpm index remove NAME` stops using it."
)

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_SURROGATE_RE = re.compile(r"\\u[dD][89a-fA-F]")
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")
# Git refuses these in ref names (git-check-ref-format); a tag is a ref name.
_BAD_TAG_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock$|\.$|/$")


def short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bad(
    field: str, value: Any, expected: str, *, where: str | None = None, hint: str | None = HINT
) -> IndexDataError:
    """The one shape of every index data error: ``where: field: expected X, got Y``."""
    got = "missing" if value is MISSING else f"got {short_repr(value)}"
    return _error(
        field, got, expected, where, hint, None if value is MISSING else short_repr(value, 200)
    )


def _error(
    field: str, got: str, expected: str, where: str | None, hint: str | None, value: str | None
) -> IndexDataError:
    head = f"{where}: " if where else ""
    body = f"{field}: expected {expected}" if field else f"expected {expected}"
    return IndexDataError(
        f"{head}{body}, {got}",
        hint=hint,
        details={"where": where, "field": field, "value": value, "expected": expected, "got": got},
    )


def relocate(exc: IndexDataError, where: str, prefix: str) -> IndexDataError:
    """A value object's own check error, re-issued at its place in a document."""
    d = exc.details
    if "expected" not in d or "got" not in d:  # not built by bad(): only add the location
        return IndexDataError(
            f"{where}: {prefix}: {exc.message}", hint=exc.hint, details={**d, "where": where}
        )
    field = str(d.get("field") or "")
    full = f"{prefix}.{field}" if prefix and field else (prefix or field)
    return _error(full, str(d["got"]), str(d["expected"]), where, exc.hint, d.get("value"))


# --- bytes to JSON -------------------------------------------------------------------------


def decode_text(data: bytes, where: str, what: str) -> str:
    """UTF-8 bytes -> text, or IndexDataError naming the first invalid byte."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad(
            "", f"invalid byte at offset {exc.start}", f"UTF-8 text ({what})", where=where
        ) from None


def decode_object(data: str | bytes, where: str, what: str) -> dict[str, Any]:
    """UTF-8 JSON text -> a JSON object of plain JSON values, or IndexDataError."""
    if isinstance(data, (bytes, bytearray)):
        data = decode_text(data, where, what)
    doc = _canonical_object(data)
    if doc is not None:
        return doc
    from hxpm.core.strictjson import DuplicateKeyError, loads_strict

    try:
        doc = loads_strict(data)
    except DuplicateKeyError as exc:
        raise bad(
            "", f"key {exc.key!r} twice", f"each key at most once ({what})", where=where
        ) from None
    except (ValueError, RecursionError) as exc:
        raise bad("", data[:60], f"{what} (not valid JSON: {exc})", where=where) from None
    if not isinstance(doc, dict):
        raise bad("", doc, f"{what} as a JSON object", where=where)
    # Only an escaped surrogate can still give a value that would not write back as UTF-8
    # JSON; look at the text first, and walk the whole document only then.
    if _SURROGATE_RE.search(data) or not is_utf8(data):
        check_plain(doc, where)
    return doc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _short_int(text: str) -> int:
    if len(text) > 19:  # may pass 64 bits: the strict reader decides and words it
        raise ValueError("a long integer")
    return int(text)


def _canonical_object(text: str) -> dict[str, Any] | None:
    """The object in ``text`` when ``text`` is exactly how hxpm writes one (compact JSON,
    UTF-8, nothing escaped that need not be): the common case, read by the C parser alone.
    None sends ``text`` to the strict reader, which decides (and words any error).

    Why this accepts only what the strict reader accepts, with the same result: writing
    the parsed value back gives ``text`` again, so no key was repeated (one copy would be
    lost) and no number overflowed (it would write back as ``Infinity``); NaN/Infinity are
    refused by the parser; nothing was escaped, so no lone surrogate; at most
    ``MAX_DEPTH`` brackets in all bound the nesting; no integer of 20 digits or more, so
    none beyond 64 bits.
    """
    if text.count("{") + text.count("[") > MAX_DEPTH:
        return None
    try:
        doc = json.loads(text, parse_constant=_refuse_constant, parse_int=_short_int)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    if json.dumps(doc, separators=(",", ":"), ensure_ascii=False) != text:
        return None
    return doc


def check_plain(value: Any, where: str, path: str = "", depth: int = 0) -> None:
    """Finite numbers, no lone surrogates, bounded depth: what we keep must write back."""
    if isinstance(value, str):
        if not is_utf8(value):
            raise bad(path or "$", value, "text without lone surrogates", where=where)
    elif depth > MAX_DEPTH:
        raise bad(path or "$", "...", f"at most {MAX_DEPTH} levels of nesting", where=where)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not is_utf8(k):
                raise bad(path or "$", k, "object keys without lone surrogates", where=where)
            check_plain(v, where, f"{path}.{k}" if path else k, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_plain(v, where, f"{path}[{i}]", depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise bad(path or "$", value, "a finite number", where=where)


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- a typed view of one JSON object -------------------------------------------------------


class Fields:
    """Typed getters over one JSON object; the first bad value raises IndexDataError."""

    __slots__ = ("doc", "path", "where")

    def __init__(self, doc: dict[str, Any], where: str, path: str = "") -> None:
        self.doc = doc
        self.where = where
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, value: Any, expected: str, hint: str | None = HINT) -> IndexDataError:
        return bad(self.at(key), value, expected, where=self.where, hint=hint)

    def get(self, key: str, default: Any = MISSING, *, expected: str = "a value") -> Any:
        """Any value (the caller checks it); ``default`` when absent, else an error."""
        value = self.doc.get(key, MISSING)
        if value is MISSING and default is MISSING:
            raise self.fail(key, MISSING, expected)
        return default if value is MISSING else value

    def string(
        self,
        key: str,
        *,
        default: Any = MISSING,
        check: Callable[[str], bool] | None = None,
        expected: str = "a string",
    ) -> str:
        value = self.doc.get(key, MISSING)
        if value is MISSING and default is not MISSING:
            return default  # type: ignore[no-any-return]
        if not isinstance(value, str) or (check is not None and not check(value)):
            raise self.fail(key, value, expected)
        return value

    def integer(self, key: str, *, lo: int, hi: int | None, default: Any = MISSING) -> int:
        value = self.doc.get(key, MISSING)
        if value is MISSING and default is not MISSING:
            return default  # type: ignore[no-any-return]
        # Index lines are written by programs: an integer is a JSON integer, not 3.0 or true.
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < lo
            or (hi is not None and value > hi)
        ):
            bound = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
            raise self.fail(key, value, bound)
        return value

    def number(self, key: str, *, lo: float, hi: float, default: float) -> float:
        value = self.doc.get(key, MISSING)
        if value is MISSING:
            return default
        # The range first: math.isfinite() of an int too large for a float raises.
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not (lo <= value <= hi and math.isfinite(value))
        ):
            raise self.fail(key, value, f"a number from {lo:g} to {hi:g}")
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.doc.get(key, MISSING)
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, value, "true or false")
        return value

    def array(self, key: str, *, required: bool = False, what: str = "values") -> list[Any]:
        value = self.doc.get(key, MISSING)
        if value is MISSING and not required:
            return []
        if not isinstance(value, list):
            raise self.fail(key, value, f"a list of {what}")
        return value

    def strings(
        self,
        key: str,
        *,
        check: Callable[[str], bool] = lambda s: bool(s.strip()),
        expected: str = "a non-blank string",
    ) -> tuple[str, ...]:
        items = self.array(key, what="strings")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not check(item):
                raise bad(f"{self.at(key)}[{i}]", item, expected, where=self.where)
        return tuple(items)

    def child(self, key: str, *, required: bool = True) -> Fields:
        value = self.doc.get(key, MISSING)
        if value is MISSING and not required:
            return Fields({}, self.where, self.at(key))
        if not isinstance(value, dict):
            raise self.fail(key, value, "a JSON object")
        return Fields(value, self.where, self.at(key))


# --- predicates ----------------------------------------------------------------------------


def is_printable_text(value: str, limit: int) -> bool:
    return 0 < len(value) <= limit and value.isprintable() and value == value.strip()


def is_git_url(value: str) -> bool:
    """A plausible Git location; the fetch layer applies its own full URL policy.

    Refused here already: anything that could turn into a Git option or a transport
    helper (a leading ``-``, ``ext::``/``fd::``), spaces and control characters.
    """
    return (
        0 < len(value) <= MAX_URL_CHARS
        and not value.startswith("-")
        and "::" not in value
        and _CONTROL_RE.search(value) is None
    )


def is_tag(value: str) -> bool:
    return (
        0 < len(value) <= MAX_TAG_CHARS
        and not value.startswith(("-", "/", "."))
        and _BAD_TAG_RE.search(value) is None
    )


def is_relative_path(value: str) -> bool:
    """A clean POSIX path inside a repository: no '..', '.', empty parts, '\\' or drive."""
    if not 0 < len(value) <= MAX_PATH_CHARS or _CONTROL_RE.search(value.replace(" ", "a")):
        return False
    if value.startswith("/") or "\\" in value or re.match(r"^[A-Za-z]:", value):
        return False
    return all(part not in ("", ".", "..") for part in value.split("/"))


def is_http_url(value: str) -> bool:
    """An absolute ``https://`` or ``http://`` URL with a host and no spaces."""
    if not 0 < len(value) <= MAX_URL_CHARS or _CONTROL_RE.search(value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(host)


# --- value checks behind the model's dataclasses -------------------------------------------
# Each raises bad(field, value, expected) without a location; the parser re-issues it at its
# place in the document with relocate().

MAX_SIZE = (1 << 63) - 1  # fits SQLite's INTEGER and every filesystem's sizes
HEX64 = "64 lower-case hex digits"
SIZE_EXPECTATION = "the archive size in bytes, an integer >= 1"


def check_source(git: object, tag: object, commit: object) -> None:
    if not isinstance(git, str) or not is_git_url(git):
        raise bad("git", git, "a Git repository URL (no spaces, not starting with '-', no '::')")
    if not isinstance(tag, str) or not is_tag(tag):
        raise bad("tag", tag, "a Git tag name such as v0.3.0")
    if not isinstance(commit, str) or not COMMIT_RE.fullmatch(commit):
        raise bad("commit", commit, "a commit id of 40 lower-case hex digits")


def check_variant(values: dict[str, Any]) -> Statement:
    """A variant's fields, and its signature's statement agreeing with them.

    Returns the parsed statement so the line can check name and version against it.
    """
    from hxpm.core.digest import is_sha256_hex
    from hxpm.core.manifest_checks import check_base_name
    from hxpm.package.signing import MAX_BASE_MODEL_CHARS, parse_signature_file

    base = values["base_model"]
    if (
        not isinstance(base, str)
        or not is_printable_text(base, MAX_BASE_MODEL_CHARS)
        or not check_base_name(base)
    ):
        raise bad(
            "base_model",
            base,
            f"a base model name such as Qwen/Qwen3-0.6B "
            f"(1-{MAX_BASE_MODEL_CHARS} printable characters)",
        )
    if not (values["base_sha256"] == "" or is_sha256_hex(values["base_sha256"])):
        raise bad("base_sha256", values["base_sha256"], f"{HEX64}, or '' when unknown")
    _check_location(values["path"], values["url"])
    size = values["size"]
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE:
        raise bad("size", size, SIZE_EXPECTATION)
    for key in ("sha256", "tree_sha256"):
        if not is_sha256_hex(values[key]):
            raise bad(key, values[key], HEX64)
    text = values["signature"]
    try:
        statement = parse_signature_file(text if isinstance(text, str) else b"")
    except HxpmError as exc:
        raise bad("signature", text, f"the package's .sig file text ({exc.message})") from None
    for key in ("base_model", "base_sha256", "sha256", "tree_sha256"):
        signed = getattr(statement.statement, key)
        if signed != values[key]:
            raise bad(
                "signature",
                f"a statement with {key} {signed!r}",
                f"a signature over this variant ({key} {values[key]!r})",
                hint="The index line carries another package's signature; do not use it.",
            )
    return statement.statement


def _check_location(path: object, url: object) -> None:
    if (path is None) == (url is None):
        raise bad("path", path, f"exactly one of path and url (url is {short_repr(url)})")
    if path is not None and (not isinstance(path, str) or not is_relative_path(path)):
        raise bad(
            "path",
            path,
            "a relative path inside the source repository, without "
            "'..', '.', empty parts, '\\\\' or a leading '/'",
        )
    if url is not None and (not isinstance(url, str) or not is_http_url(url)):
        raise bad("url", url, "an https:// or http:// URL with a host")


@functools.lru_cache(maxsize=4096)
def parse_version_cached(text: str) -> Version:
    """:meth:`Version.parse`, memoised: an index repeats the same few hundred versions
    (values are immutable, and a failure is not cached)."""
    return Version.parse(text)


@functools.lru_cache(maxsize=16384)
def parse_requirement_cached(text: str, field: str) -> Requirement:
    """:func:`parse_requirement`, memoised like :func:`parse_version_cached`."""
    return parse_requirement(text, field=field)


def read_version(f: Fields, expectation: str) -> Version:
    text = f.string("version", expected=expectation)
    try:
        version = parse_version_cached(text)
    except HxpmError:
        raise f.fail("version", text, expectation) from None
    # One spelling per version: the text is what signatures and file names carry.
    if str(version) != text:
        raise f.fail("version", text, f"{expectation} (write {str(version)!r})")
    return version


def read_requirements(f: Fields, key: str) -> tuple[Requirement, ...]:
    from hxpm.core.manifest_checks import REQUIREMENT_EXPECTATION

    out: list[Requirement] = []
    for i, item in enumerate(f.array(key, what="requirement strings")):
        at = f"{f.at(key)}[{i}]"
        if not isinstance(item, str):
            raise bad(at, item, REQUIREMENT_EXPECTATION, where=f.where)
        try:
            out.append(parse_requirement_cached(item, at))
        except HxpmError as exc:
            detail = exc.message.removeprefix(f"{at}: ")
            raise bad(at, item, f"{REQUIREMENT_EXPECTATION} ({detail})", where=f.where) from None
    return tuple(out)


def render_requirement(req: Requirement) -> str:
    """The requirement as its author wrote it (the parser keeps that text)."""
    return req.raw or str(req)


_NO_DEFAULT: Any = object()


class EachItem:
    """In a defaults tree: the defaults of every item of a list (variants' null path/url)."""

    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item


def merge(raw: Any, typed: Any, default: Any = _NO_DEFAULT) -> Any:
    """``typed`` written over ``raw``: unknown keys, key order and equal values from ``raw``.

    A key absent from ``raw`` whose typed value is its default stays absent, so a line that
    relied on defaults is written back as it was.
    """
    if isinstance(raw, dict) and isinstance(typed, dict):
        if typed.items() <= raw.items():  # the usual case, checked in C: nothing changed
            return raw
        out = dict(raw)
        for key, value in typed.items():
            sub = default.get(key, _NO_DEFAULT) if isinstance(default, dict) else _NO_DEFAULT
            if key in raw:
                # Equal values keep the raw one without a walk (validated lines never mix
                # bools and numbers, the one case where == would hide a difference).
                before = raw[key]
                out[key] = before if before == value else merge(before, value, sub)
            elif sub is _NO_DEFAULT or value != sub:
                out[key] = value
        return out
    if isinstance(raw, list) and isinstance(typed, list) and len(raw) == len(typed):
        item = default.item if isinstance(default, EachItem) else _NO_DEFAULT
        return [merge(r, t, item) for r, t in zip(raw, typed, strict=True)]
    # Keep the raw spelling (1 rather than 1.0) when the value is the same; bool is not int.
    same = raw == typed and isinstance(raw, bool) == isinstance(typed, bool)
    return raw if same else typed
