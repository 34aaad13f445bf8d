"""Values the resolver consumes and produces (docs/architecture.md §7).

A :class:`Candidate` is one version of one expert from one origin (the store, an index, a Git
source); a :class:`CandidateSource` lists them by name. The resolver never does I/O of its own:
everything it knows comes from the source, and the caller's ``payload`` rides along untouched.
A :class:`Resolution` is the chosen set in load order.

Invariants: candidates are immutable values; ``Resolution.experts`` holds each name once, and
every expert appears after every expert it requires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hxpm.core.versions import Requirement, Version

#: Who asked for a root requirement, in ``Resolution.required_by`` and in conflict reports.
USER = "<user>"

#: (``requires``, ``incompatible_with``) of a candidate.
Dependencies = tuple[tuple[Requirement, ...], tuple[Requirement, ...]]
_PARSED_LATER = frozenset(("requires", "incompatible_with"))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One installable version of an expert, as a source knows it."""

    name: str
    version: Version
    requires: tuple[Requirement, ...] = ()
    incompatible_with: tuple[Requirement, ...] = ()
    load_order: int = 0
    max_chain: int = 10
    # (base model name, base sha256 or "" when the variant does not record one)
    base_models: tuple[tuple[str, str], ...] = ()
    yanked: bool = False
    installed: bool = False
    origin: str = ""  # "installed", an index name or a Git URL: shown in messages, breaks ties
    payload: Any = field(default=None, compare=False, hash=False)
    # What gives ``requires`` and ``incompatible_with`` of a candidate made by
    # :meth:`with_parsed_later`; None once they are set (always, for one made by __init__).
    _parse_later: Callable[[], Dependencies] | None = field(
        default=None, compare=False, hash=False, repr=False, kw_only=True
    )

    @classmethod
    def with_parsed_later(
        cls,
        name: str,
        version: Version,
        parse: Callable[[], Dependencies],
        *,
        load_order: int,
        max_chain: int,
        base_models: tuple[tuple[str, str], ...],
        yanked: bool,
        origin: str,
        payload: Any,
    ) -> Candidate:
        """A candidate whose ``requires`` and ``incompatible_with`` are ``parse()``'s answer,
        computed when first read. A large index lists ~10 versions of every name and the
        resolver reads the requirements of only the few it tries (docs/performance.md,
        registry section); equality, hashing and repr read them like any attribute."""
        candidate = object.__new__(cls)
        _set = object.__setattr__  # frozen: what the dataclass's own __init__ does
        _set(candidate, "name", name)
        _set(candidate, "version", version)
        _set(candidate, "load_order", load_order)
        _set(candidate, "max_chain", max_chain)
        _set(candidate, "base_models", base_models)
        _set(candidate, "yanked", yanked)
        _set(candidate, "installed", False)
        _set(candidate, "origin", origin)
        _set(candidate, "payload", payload)
        _set(candidate, "_parse_later", parse)
        return candidate

    if not TYPE_CHECKING:  # hidden from mypy: it would make every attribute name valid

        def __getattr__(self, attr: str) -> Any:
            # Reached only when a slot was never set: the two that with_parsed_later leaves
            # for their first read. Anything else is a plain missing attribute.
            if attr not in _PARSED_LATER:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")
            requires, incompatible_with = self._parse_later()
            object.__setattr__(self, "requires", requires)
            object.__setattr__(self, "incompatible_with", incompatible_with)
            object.__setattr__(self, "_parse_later", None)
            return requires if attr == "requires" else incompatible_with

    @property
    def label(self) -> str:
        """``expert-a 1.0.0``: how messages name this candidate."""
        return f"{self.name} {self.version}"

    @property
    def key(self) -> str:
        """``expert-a@1.0.0``: how ``required_by`` and JSON reports name this candidate."""
        return f"{self.name}@{self.version}"


class CandidateSource(Protocol):
    """Where candidates come from: the store, the configured indexes, Git sources."""

    def candidates_for(self, name: str) -> Sequence[Candidate]:
        """Every known version of ``name`` from every origin; empty when none knows it.

        The resolver calls this at most once per name per resolve and caches the answer.
        """
        ...


class InMemorySource:
    """A dict-backed :class:`CandidateSource` for tests, benchmarks and pre-fetched data."""

    __slots__ = ("_by_name",)

    def __init__(self, candidates: Iterable[Candidate]) -> None:
        by_name: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            by_name.setdefault(candidate.name, []).append(candidate)
        self._by_name = {name: tuple(found) for name, found in by_name.items()}

    def candidates_for(self, name: str) -> Sequence[Candidate]:
        return self._by_name.get(name, ())

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The chosen set.

    ``experts`` is in load order: every expert after everything it requires, ties broken by
    ``load_order`` and then by name. ``required_by`` maps each chosen name to who asked for it:
    :data:`USER` for a root requirement, else ``name@version`` of the requiring expert.
    """

    experts: tuple[Candidate, ...]
    required_by: Mapping[str, tuple[str, ...]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.experts)

    def get(self, name: str) -> Candidate | None:
        """The chosen candidate for ``name``, or None when it is not in the set."""
        for candidate in self.experts:
            if candidate.name == name:
                return candidate
        return None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why one candidate was not chosen; ``code`` is stable, ``message`` is for people.

    Codes: ``range`` (outside a requested range), ``base-model`` (no variant for the base),
    ``base-digest`` (variant built for another digest of the base), ``yanked``,
    ``prerelease``, ``incompatible`` (another expert's ``incompatible_with`` matches it),
    ``locked`` (the lock pins another version), ``conflict`` (fits every range here, but its
    own requirements conflict with the rest of the set).
    """

    code: str
    message: str
