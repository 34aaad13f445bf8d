"""From `hxpm install` arguments to a plan: resolve, then say what changes for each expert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hxpm.core.names import name_candidates
from hxpm.core.versions import Requirement, Version, VersionSpec, parse_spec
from hxpm.errors import UsageError
from hxpm.index.cache import IndexCache
from hxpm.resolve.model import Candidate, Resolution
from hxpm.resolve.resolver import resolve
from hxpm.services.candidates import IndexPayload, StoreSource, sparse_fetcher_for
from hxpm.services.sources import GitTarget, LocalTarget, NameTarget, classify
from hxpm.store.store import Store

Action = Literal["install", "upgrade", "downgrade", "keep"]


@dataclass(frozen=True, slots=True)
class PlanStep:
    action: Action
    candidate: Candidate
    installed_version: str | None  # newest installed version of the name before, if other
    requested: bool


@dataclass(frozen=True)
class Plan:
    base_model: str
    base_sha256: str | None
    roots: tuple[Requirement, ...]
    steps: tuple[PlanStep, ...]  # load order: requirements before dependents
    resolution: Resolution

    @property
    def changes(self) -> tuple[PlanStep, ...]:
        return tuple(s for s in self.steps if s.action != "keep")


@dataclass(frozen=True, slots=True)
class PlanOptions:
    base: str | None = None
    allow_prerelease: bool = False
    upgrade: bool = False  # prefer the newest allowed over what is installed
    include_installed: bool = True  # False when locking: every pin needs its source
    locked: Mapping[str, Version] | None = None
    # False when the plan is only shown (``install --dry-run``): the chosen candidates'
    # whole index lines are then not read, and their payloads cannot be applied or locked.
    read_lines: bool = True


def plan_install(store: Store, args: Sequence[str], options: PlanOptions = PlanOptions()) -> Plan:
    # The cache itself, not services.indexes.open_cache: that module loads Git (dulwich).
    cache = IndexCache(store.paths.index_cache)
    try:
        sparse = sparse_fetcher_for(store, cache)
        if sparse is not None:  # the roots and their requires closure, fetched in parallel
            sparse.prefetch_args(args)
        roots, pinned, extra = _roots(store, cache, args)
        base, base_sha = _choose_base(store, options.base)
        source = StoreSource(
            store,
            cache,
            pinned_index=pinned,
            extra=extra,
            include_installed=options.include_installed,
            sparse=sparse,
        )
        resolution = resolve(
            roots,
            source,
            base_model=base,
            base_sha256=base_sha,
            allow_prerelease=options.allow_prerelease,
            prefer_installed=not options.upgrade,
            locked=options.locked,
        )
        if options.read_lines:
            _read_chosen_lines(cache, resolution)
    finally:
        cache.close()
    root_names = {r.name for r in roots}
    installed = store.db.installed_names()
    steps = tuple(
        _step(store, c, base, c.name in root_names, c.name in installed) for c in resolution.experts
    )
    return Plan(base, base_sha, tuple(roots), steps, resolution)


def _read_chosen_lines(cache: IndexCache, resolution: Resolution) -> None:
    """Resolution read only the cache's resolution columns: read the whole verified line of
    each chosen candidate now, while the cache is open (apply and lock files need them),
    all in one statement."""
    unread = [
        ((c.payload.index, c.name, str(c.version)), c.payload)
        for c in resolution.experts
        if isinstance(c.payload, IndexPayload)
        and c.payload.index is not None
        and not c.payload.loaded
    ]
    found = cache.lines_at([key for key, _ in unread])
    for key, payload in unread:
        line = found.get(key)
        if line is not None:
            payload.keep(line)
    for c in resolution.experts:
        if isinstance(c.payload, IndexPayload):
            c.payload.line  # noqa: B018  (any left: read one by one, raising its own error)


def _roots(
    store: Store, cache: IndexCache, args: Sequence[str]
) -> tuple[list[Requirement], dict[str, str], list[Candidate]]:
    index_names = [i.name for i in store.db.indexes()]
    roots: list[Requirement] = []
    pinned: dict[str, str] = {}
    extra: list[Candidate] = []
    for arg in args:
        target = classify(arg, index_names=index_names)
        if isinstance(target, LocalTarget):
            raise UsageError(
                f"{arg} is a local file or folder; install it on its own",
                hint="Local packages are installed as they are, without resolving from indexes.",
            )
        if isinstance(target, GitTarget):
            # Git (dulwich) is imported only for a Git target, not for index names.
            from hxpm.services.gitsource import candidate_for_release, release_for

            cand = candidate_for_release(store.paths, release_for(store.paths, target.source))
            extra.append(cand)
            roots.append(Requirement(cand.name, _exact(cand.version), target.text, target.text))
            continue
        assert isinstance(target, NameTarget)
        req = _expand_short_name(store, cache, target.requirement, target.index)
        if target.index:
            pinned[req.name] = target.index
        roots.append(req)
    return roots, pinned, extra


def _exact(version: Version) -> VersionSpec:
    return parse_spec(f"=={version}")


def _expand_short_name(
    store: Store, cache: IndexCache, req: Requirement, index: str | None
) -> Requirement:
    """``sql`` means ``expert-sql`` when nothing is called ``sql``."""
    names = name_candidates(req.name)
    if len(names) == 1:
        return req  # a full name means itself, whether or not anything knows it
    for name in names:
        if store.db.installed(name) or cache.releases_for(name, index=index):
            return Requirement(name, req.spec, req.source, req.raw)
    return req


def _choose_base(store: Store, base: str | None) -> tuple[str, str | None]:
    name = base or store.db.get_meta("default_base")
    if name is None:
        raise UsageError(
            "no base model is set: experts are installed in the variant built for your base model",
            hint="Register one with `hxpm base add NAME --path DIR`, or pass --base NAME.",
        )
    registered = store.db.find_base(name)
    return name, registered.sha256 if registered else None


def _step(store: Store, c: Candidate, base: str, requested: bool, any_installed: bool) -> PlanStep:
    if not any_installed:  # most of a closure: no query
        return PlanStep("install", c, None, requested)
    installed = [e for e in store.db.installed(c.name) if e.base_model == base]
    if c.installed or any(e.version == str(c.version) for e in installed):
        return PlanStep("keep", c, None, requested)
    if not installed:
        return PlanStep("install", c, None, requested)
    from hxpm.services.query import newest_first  # only when something is installed

    newest = newest_first(installed)[0].version
    action: Action = "upgrade" if Version.parse(newest) < c.version else "downgrade"
    return PlanStep(action, c, newest, requested)
