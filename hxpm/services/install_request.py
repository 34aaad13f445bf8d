"""`hxpm install`: one entry point over local packages, indexes, Git repos and lock files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hxpm.store.fsutil import names_existing_path
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.services.apply import ApplyResult, StepCallback
    from hxpm.services.install import InstallOptions, InstallResult, ProgressFn
    from hxpm.services.plan import Plan

    # Given a label (the file name), a callback for byte progress, or None.
    ProgressFactory = Callable[[str], ProgressFn | None]


def _options(request: InstallRequest) -> InstallOptions:
    # Package reading, building and signing load only when something is installed: a
    # resolution (`install --dry-run`) never imports them.
    from hxpm.services.install import InstallOptions

    return request.options or InstallOptions()


@dataclass(frozen=True, slots=True)
class InstallRequest:
    args: tuple[str, ...]
    base: str | None = None
    options: InstallOptions | None = None  # None: the defaults
    dry_run: bool = False
    allow_prerelease: bool = False
    signature: Path | None = None  # only with one local package file


@dataclass(frozen=True)
class InstallOutcome:
    local: tuple[InstallResult, ...] = ()
    plan: Plan | None = None
    applied: ApplyResult | None = None
    dry_run: bool = False
    warnings: tuple[str, ...] = field(default=())


def install(
    store: Store,
    request: InstallRequest,
    *,
    on_step: StepCallback | None = None,
    progress: ProgressFactory | None = None,
) -> InstallOutcome:
    """Local paths are installed as they are; everything else is resolved together."""
    local = [a for a in request.args if names_existing_path(a)]
    remote = [a for a in request.args if a not in local]
    results = [_install_local(store, Path(a).expanduser(), request, progress) for a in local]
    if not remote:
        return InstallOutcome(local=tuple(results))
    # Resolution and Git load dulwich and resolvelib: only pay for them when needed.
    from hxpm.services.plan import PlanOptions, plan_install

    options = PlanOptions(
        base=request.base,
        allow_prerelease=request.allow_prerelease,
        read_lines=not request.dry_run,  # a dry run shows the plan: no line is read
    )
    plan = plan_install(store, remote, options)
    if request.dry_run:
        return InstallOutcome(local=tuple(results), plan=plan, dry_run=True)
    from hxpm.services.apply import apply_plan  # fetching: not for a dry run

    applied = apply_plan(store, plan, _options(request), on_step=on_step, progress=progress)
    return InstallOutcome(local=tuple(results), plan=plan, applied=applied)


def _install_local(
    store: Store, path: Path, request: InstallRequest, progress: ProgressFactory | None
) -> InstallResult:
    from hxpm.services.install import install_directory, install_package_file

    cb = progress(path.name) if progress else None
    if path.is_dir():
        return install_directory(
            store, path, base=request.base, options=_options(request), progress=cb
        )
    return install_package_file(
        store,
        path,
        signature=request.signature,
        options=_options(request),
        progress=cb,
        base=request.base,
    )


def install_from_lock(
    store: Store,
    lock_path: Path,
    options: InstallOptions,
    *,
    on_step: StepCallback | None = None,
    progress: ProgressFactory | None = None,
) -> ApplyResult:
    from hxpm.services.lockfile import install_locked

    return install_locked(store, lock_path, options, on_step=on_step, progress=progress)
