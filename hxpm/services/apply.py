"""Carry out a plan: fetch what is missing (in parallel), then install in load order.

Downloads happen before the store lock is taken (blobs are content-addressed and renamed
into place, so concurrent writers cannot tear them); installs happen under the lock:
every tree is unpacked and renamed into place, then ONE transaction records them all and
drops the versions an upgrade replaces (docs/store.md, "Guarantees").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hxpm.index.model import VariantEntry, VersionLine
from hxpm.index.urls import normalise_git_url
from hxpm.package.signing import parse_signature_file
from hxpm.services.candidates import IndexPayload
from hxpm.services.fetch import DownloadMeter, fetch_variant, needs_network
from hxpm.services.install import (
    InstallMeta,
    InstallOptions,
    InstallResult,
    PlacedInstall,
    ProgressFn,
    discard_placed,
    place_archive_locked,
    record_installs_locked,
)
from hxpm.services.plan import Plan, PlanStep
from hxpm.services.trust import trusted_keys
from hxpm.store.store import Store
from hxpm.transport import is_offline, require_online
from hxpm.trust_policy import PackageFacts, verify_signature

MAX_PARALLEL = 4
StepCallback = Callable[[PlanStep, str], None]
ProgressFactory = Callable[[str], ProgressFn | None]  # label -> byte-progress hook (the CLI's)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    installed: tuple[InstallResult, ...]
    kept: tuple[PlanStep, ...]
    replaced: tuple[str, ...] = ()  # "name version" of versions an update moved away from


def apply_plan(
    store: Store,
    plan: Plan,
    options: InstallOptions = InstallOptions(),
    *,
    replace_old: bool = False,
    on_step: StepCallback | None = None,
    progress: ProgressFactory | None = None,
) -> ApplyResult:
    """Fetch and install every change of ``plan``; ``replace_old`` removes moved-from versions.

    ``progress`` gets one byte-progress hook for all URL downloads together (they run in
    parallel, so one bar shows them).
    """
    changes = plan.changes
    work = [(s, *_line_and_variant(s, plan.base_model)) for s in changes]
    if is_offline():
        for _step, line, variant in work:
            if needs_network(store.paths, line, variant):
                require_online(f"{line.name} {line.version}")
    _verify_all(store, work)  # before downloading: nothing untrusted is fetched
    _fetch_all(store, work, on_step, progress)
    with store.writing():
        results, replaced = _install_all(store, plan, work, options, replace_old, on_step)
        _mark_requested(
            store, plan.base_model, [s for s in plan.steps if s.action == "keep" and s.requested]
        )
    return ApplyResult(
        tuple(results), tuple(s for s in plan.steps if s.action == "keep"), tuple(replaced)
    )


def _verify_all(store: Store, work: Sequence[tuple[PlanStep, VersionLine, VariantEntry]]) -> None:
    """Trust and signatures of the whole plan are checked before anything is fetched."""
    trusted = trusted_keys(store)
    for _step, _line, variant in work:
        envelope = parse_signature_file(variant.signature)
        st = envelope.statement
        verify_signature(
            envelope,
            PackageFacts(
                st.name, st.version, st.base_model, st.base_sha256, st.tree_sha256, variant.sha256
            ),
            trusted,
        )


def _install_all(
    store: Store,
    plan: Plan,
    work: Sequence[tuple[PlanStep, VersionLine, VariantEntry]],
    options: InstallOptions,
    replace_old: bool,
    on_step: StepCallback | None,
) -> tuple[list[InstallResult], list[str]]:
    """All or nothing: every tree is placed first, then one transaction records them all
    and drops the versions an upgrade moves away from (a crash leaves old or new, never
    both). On any failure the placed, unrecorded trees are removed before re-raising."""
    placed: list[PlacedInstall] = []
    try:
        for step, line, variant in work:
            old = step.installed_version
            meta = InstallMeta(
                source=f"{step.candidate.origin}: {line.source.git}@{line.source.tag}",
                requested=step.requested,
                index_name=step.candidate.payload.index,
                source_commit=line.source.commit,
                expected_sha256=variant.sha256,
                base=plan.base_model,
                replaces=(old,) if replace_old and old else (),
            )
            envelope = parse_signature_file(variant.signature)
            placed.append(
                place_archive_locked(store, _blob(store, variant), envelope, options, meta)
            )
        record_installs_locked(store, placed)
    except BaseException:
        discard_placed(store, placed)
        raise
    if on_step:
        for step, _line, _variant in work:
            on_step(step, "installed")
    replaced = [
        f"{p.result.expert.name} {e.version}"
        for p in placed
        for e in p.drop
        if e.name == p.result.expert.name and e.version != p.result.expert.version
    ]
    return [p.result for p in placed], replaced


def _blob(store: Store, variant: VariantEntry) -> Path:
    return store.paths.blob(variant.sha256)


def _line_and_variant(step: PlanStep, base: str) -> tuple[VersionLine, VariantEntry]:
    payload = step.candidate.payload
    assert isinstance(payload, IndexPayload)
    return payload.line, payload.variant(base)


def _fetch_all(
    store: Store,
    work: Sequence[tuple[PlanStep, VersionLine, VariantEntry]],
    on_step: StepCallback | None,
    progress: ProgressFactory | None = None,
) -> None:
    # One worker per source repo: two fetches into the same Git cache must not interleave.
    groups: dict[str, list[tuple[PlanStep, VersionLine, VariantEntry]]] = {}
    for item in work:
        key = item[2].url or normalise_git_url(item[1].source.git).cache_key
        groups.setdefault(key, []).append(item)
    downloads = [v for _s, _l, v in work if v.url and not store.paths.blob(v.sha256).is_file()]
    label = f"{len(downloads)} archive{'s' if len(downloads) > 1 else ''}"
    report = progress(label) if progress and downloads else None
    meter = DownloadMeter(report, downloads) if report else None

    def run(group: list[tuple[PlanStep, VersionLine, VariantEntry]]) -> None:
        for step, line, variant in group:
            hook = meter.callback(variant) if meter and variant.url else None
            fetch_variant(store.paths, line, variant, progress=hook)
            if on_step:
                on_step(step, "fetched")

    with ThreadPoolExecutor(min(MAX_PARALLEL, max(1, len(groups)))) as pool:
        list(pool.map(run, groups.values()))


def _mark_requested(store: Store, base: str, steps: Sequence[PlanStep]) -> None:
    """An expert first pulled in as a dependency becomes one the user asked for."""
    rows = [
        store.db.find_installed(s.candidate.name, str(s.candidate.version), base) for s in steps
    ]
    unflagged = [e for e in rows if e is not None and not e.requested]
    if unflagged:
        with store.db.transaction() as conn:
            for e in unflagged:
                store.db.set_requested(conn, e)
