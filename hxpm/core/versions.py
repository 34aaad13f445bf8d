"""SemVer versions, version ranges and requirement strings (docs/architecture.md §1).

Accepted requirement forms: ``name``, ``name@*``, ``name@1.2.3``, ``name@>=1.0.0``,
``name@>=1.0.0,<2.0.0``, ``name@^1.2``, ``name@~1.2``, the legacy ``name<=0.9.0`` without
``@``, and a Git source instead of a bare name (``github.com/user/expert-json@>=0.4``).
Pre-releases satisfy a range only when asked for (``allow_prerelease``) or when the range
itself names a pre-release of the same ``major.minor.patch`` (npm's rule).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hxpm.core.names import NAME_EXPECTATION, is_valid_name
from hxpm.errors import InvalidRequirementError

if TYPE_CHECKING:
    import semver

SPEC_EXPECTATION = "a version range such as *, 1.2.3, >=1.0.0, >=1.0.0,<2.0.0, ^1.2 or ~1.2"
# ASCII only: without it \d also matches other scripts' digits and int() reads "1\u0661" as 11.
# The pre-release group follows SemVer's identifier grammar (no empty parts, no leading zeros).
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_PARTIAL_RE = re.compile(
    r"^(0|[1-9]\d*)(?:\.(0|[1-9]\d*|\*|x))?(?:\.(0|[1-9]\d*|\*|x))?"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$",
    re.ASCII,
)
# The semver library's own grammar for a full version (its Version._REGEX, which this
# module used before parsing itself): tests/unit/core/test_version_keys.py checks both
# accept the same strings.
_BUILD_ID = r"[0-9a-zA-Z-]+"
_VERSION_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+({_BUILD_ID}(?:\.{_BUILD_ID})*))?\Z",
    re.ASCII,
)
# SemVer sets no limit; the semver library refuses longer version strings, and digit runs
# past Python's int() limit (4300 digits) would raise a bare ValueError.
MAX_VERSION_CHARS = 255
_COMPARATOR_RE = re.compile(r"^(\^|~|>=|<=|==|!=|>|<|=)?\s*(.+)$")
_LEGACY_RE = re.compile(r"^([a-z][a-z0-9-]{0,63})\s*((?:\^|~|>=|<=|==|!=|>|<|=).+)$")

#: (major, minor, patch, pre-release part): tuples compare in SemVer precedence.
VersionKey = tuple[int, int, int, tuple[Any, ...]]
_RELEASE = (1,)  # a release sorts after every pre-release of its major.minor.patch


def _identifier_key(identifier: str) -> tuple[int, int, str]:
    # The semver library's precedence: numeric identifiers by value (compared as digit
    # strings, so a 200-digit one costs no int()), below alphanumeric ones, which compare
    # as ASCII text.
    if identifier.isdecimal():
        digits = identifier.lstrip("0") or "0"
        return (0, len(digits), digits)
    return (1, 0, identifier)


class Version:
    """A SemVer 2.0 version, ordered by SemVer precedence; immutable.

    Parsed once into plain ints and strings plus :attr:`key`, a tuple whose order is
    SemVer precedence, so comparing and hashing never build ``semver`` objects (a
    resolution compares thousands of versions); :attr:`value` gives the ``semver.Version``
    for what still wants one.
    """

    __slots__ = ("_semver", "_text", "build", "key", "major", "minor", "patch", "prerelease")

    major: int
    minor: int
    patch: int
    prerelease: str | None
    build: str | None
    key: VersionKey
    _text: str
    _semver: semver.Version | None

    def __init__(
        self,
        major: int,
        minor: int = 0,
        patch: int = 0,
        prerelease: str | None = None,
        build: str | None = None,
    ) -> None:
        """Raises ValueError past :data:`MAX_VERSION_CHARS` (as ``semver.Version`` does)."""
        text = f"{major}.{minor}.{patch}"
        if prerelease:
            text += f"-{prerelease}"
        if build:
            text += f"+{build}"
        if min(major, minor, patch) < 0 or len(text) > MAX_VERSION_CHARS:
            raise ValueError(f"version {text[:40]}... is negative or too long")
        pre_key = (
            _RELEASE
            if prerelease is None
            else (0, *(_identifier_key(i) for i in prerelease.split(".")))
        )
        for slot, value in (
            ("major", major),
            ("minor", minor),
            ("patch", patch),
            ("prerelease", prerelease),
            ("build", build),
            ("key", (major, minor, patch, pre_key)),
            ("_text", text),
            ("_semver", None),
        ):
            object.__setattr__(self, slot, value)

    @classmethod
    def parse(cls, text: object, *, field: str = "version") -> Version:
        if not isinstance(text, str):
            raise InvalidRequirementError(
                f"{field}: expected a SemVer string such as 1.2.3, got {text!r}"
            )
        stripped = text.strip()
        if len(stripped) > MAX_VERSION_CHARS:
            raise _too_long(stripped, field)
        m = _VERSION_RE.match(stripped)
        if m is None:
            raise InvalidRequirementError(
                f"{field}: expected a SemVer version such as 1.2.3 or 1.0.0-rc.1, "
                f"got {_shown(text)}"
            )
        major, minor, patch, pre, build = m.groups()
        return cls(int(major), int(minor), int(patch), pre, build)

    @property
    def value(self) -> semver.Version:
        """This version as a ``semver.Version`` (built, and semver imported, on first use)."""
        built = self._semver
        if built is None:
            import semver

            parts = (self.major, self.minor, self.patch, self.prerelease, self.build)
            built = semver.Version(*parts)
            object.__setattr__(self, "_semver", built)
        return built

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease is not None

    @property
    def release(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Version is immutable (cannot set {name})")

    def __copy__(self) -> Version:
        return self

    def __deepcopy__(self, memo: object) -> Version:
        return self

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key < other.key

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key <= other.key

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key > other.key

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key >= other.key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        # Build metadata does not take part in SemVer precedence, so not in equality either.
        return hash(self.key)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Version({self._text!r})"


_OPS: dict[str, Callable[[VersionKey, VersionKey], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Comparator:
    op: str  # one of >=, <=, >, <, ==, !=
    version: Version

    def matches(self, v: Version) -> bool:
        return _OPS[self.op](v.key, self.version.key)

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """A conjunction of comparators; empty means any version."""

    comparators: tuple[Comparator, ...] = ()
    text: str = "*"

    @classmethod
    def parse(cls, text: str, *, field: str = "requirement") -> VersionSpec:
        return parse_spec(text, field=field)

    @property
    def is_any(self) -> bool:
        return not self.comparators

    def allows(self, version: Version, *, allow_prerelease: bool = False) -> bool:
        if not all(c.matches(version) for c in self.comparators):
            return False
        if not version.is_prerelease or allow_prerelease:
            return True
        # A pre-release counts only when the range names one on the same release triple.
        return any(
            c.version.is_prerelease and c.version.release == version.release
            for c in self.comparators
        )

    def __str__(self) -> str:
        return self.text


ANY = VersionSpec()


#: Ranges parsed so far, by text (values are immutable; failures are not kept): an index
#: repeats the same few hundred ranges across thousands of requirements.
_SPECS: dict[str, VersionSpec] = {}
_MAX_SPECS = 8192


def parse_spec(text: str, *, field: str = "requirement") -> VersionSpec:
    """Parse a version range; raise InvalidRequirementError naming ``field`` when bad."""
    raw = text.strip()
    if raw in ("", "*", "x"):
        return ANY
    known = _SPECS.get(raw)
    if known is not None:
        return known
    spec = _parse_spec(raw, field)
    if len(_SPECS) >= _MAX_SPECS:
        _SPECS.clear()  # bounded: a long-lived process reading many indexes starts over
    _SPECS[raw] = spec
    return spec


def _parse_spec(raw: str, field: str) -> VersionSpec:
    comparators: list[Comparator] = []
    for part in raw.split(","):
        try:
            comparators.extend(_parse_one(part.strip(), raw, field))
        except ValueError:  # the cap on a version string, also for a computed bound
            raise _too_long(raw, field) from None
    return VersionSpec(tuple(comparators), raw)


def _bad_spec(raw: str, field: str) -> InvalidRequirementError:
    return InvalidRequirementError(f"{field}: expected {SPEC_EXPECTATION}, got {_shown(raw)}")


def _too_long(raw: str, field: str) -> InvalidRequirementError:
    return InvalidRequirementError(
        f"{field}: expected versions of at most {MAX_VERSION_CHARS} characters, "
        f"got {_shown(raw)} ({len(raw)} characters)"
    )


def _shown(text: str) -> str:
    """``repr(text)``, shortened: an error must not echo a 100 KB argument back."""
    return repr(text) if len(text) <= 120 else f"{text[:100]!r}..."


def _parse_one(part: str, raw: str, field: str) -> list[Comparator]:
    m = _COMPARATOR_RE.match(part)
    if not part or not m:
        raise _bad_spec(raw, field)
    op, body = m.group(1) or "", m.group(2).strip()
    if body in ("*", "x") and op in ("", "=", "=="):
        return []
    if len(body) > MAX_VERSION_CHARS:
        raise _too_long(raw, field)
    pm = _PARTIAL_RE.match(body)
    if not pm:
        raise _bad_spec(raw, field)
    major = int(pm.group(1))
    minor = None if pm.group(2) in (None, "*", "x") else int(pm.group(2))
    patch = None if pm.group(3) in (None, "*", "x") or minor is None else int(pm.group(3))
    pre = pm.group(4)
    if pre is not None and patch is None:
        raise _bad_spec(raw, field)
    low = Version(major, minor or 0, patch or 0, pre)
    if op == "^":
        return [Comparator(">=", low), Comparator("<", _caret_upper(major, minor, patch))]
    if op == "~":
        return [Comparator(">=", low), Comparator("<", _tilde_upper(major, minor))]
    if patch is None:  # a partial version is a wildcard range: 1.2 means 1.2.*
        upper = _tilde_upper(major, minor)
        return _partial_range(op, low, upper, raw, field)
    return [Comparator({"": "==", "=": "=="}.get(op, op), low)]


def _partial_range(op: str, low: Version, upper: Version, raw: str, field: str) -> list[Comparator]:
    if op in ("", "=", "=="):
        return [Comparator(">=", low), Comparator("<", upper)]
    if op in (">=", "<"):
        return [Comparator(op, low)]
    if op == ">":
        return [Comparator(">=", upper)]
    if op == "<=":
        return [Comparator("<", upper)]
    raise _bad_spec(raw, field)


def _caret_upper(major: int, minor: int | None, patch: int | None) -> Version:
    if major > 0 or minor is None:
        return Version(major + 1, 0, 0)
    if minor > 0 or patch is None:
        return Version(0, minor + 1, 0)
    return Version(0, 0, patch + 1)


def _tilde_upper(major: int, minor: int | None) -> Version:
    if minor is None:
        return Version(major + 1, 0, 0)
    return Version(major, minor + 1, 0)


@dataclass(frozen=True, slots=True)
class Requirement:
    """``name`` (or a Git ``source``) plus a version range."""

    name: str
    spec: VersionSpec = ANY
    source: str | None = None
    raw: str = ""

    def allows(self, version: Version, *, allow_prerelease: bool = False) -> bool:
        return self.spec.allows(version, allow_prerelease=allow_prerelease)

    def __str__(self) -> str:
        who = self.source or self.name
        return who if self.spec.is_any else f"{who}@{self.spec}"


_SPEC_START = re.compile(r"^\s*(\*|x$|\^|~|>|<|=|!|\d)")


def parse_requirement(text: object, *, field: str = "requirement") -> Requirement:
    """Parse a requirement string (module docstring); errors name ``field`` and the value."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequirementError(
            f"{field}: expected a requirement such as expert-sql@^1.2, got {text!r}"
        )
    raw = text.strip()
    who, spec_text = _split_at_spec(raw)
    if spec_text is None:
        legacy = _LEGACY_RE.match(raw)
        if legacy:
            who, spec_text = legacy.group(1), legacy.group(2)
    spec = parse_spec(spec_text, field=field) if spec_text is not None else ANY
    if is_valid_name(who):
        return Requirement(who, spec, None, raw)
    if "/" in who or ":" in who:
        return Requirement(_name_from_source(who, raw, field), spec, who, raw)
    raise InvalidRequirementError(
        f"{field}: expected {NAME_EXPECTATION} or a Git URL before '@', got {who!r} in {raw!r}"
    )


def _split_at_spec(raw: str) -> tuple[str, str | None]:
    at = raw.rfind("@")
    if at > 0 and _SPEC_START.match(raw[at + 1 :]):
        return raw[:at], raw[at + 1 :]
    if at == len(raw) - 1:
        return raw[:at], "*"
    return raw, None


def _name_from_source(source: str, raw: str, field: str) -> str:
    if source.startswith("-") or "::" in source:
        raise InvalidRequirementError(
            f"{field}: a Git source may not start with '-' or use a '::' transport, got {raw!r}"
        )
    last = re.split(r"[/:]", source.rstrip("/"))[-1]
    last = last.removesuffix(".git")
    if not is_valid_name(last):
        raise InvalidRequirementError(
            f"{field}: the repository name in {source!r} is not an expert name; "
            f"expected {NAME_EXPECTATION}"
        )
    return last
