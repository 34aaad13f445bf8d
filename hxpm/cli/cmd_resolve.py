"""lock, update, upgrade."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import BaseOpt, JsonOpt
from hxpm.cli.output import emit_json, escape, say
from hxpm.cli.progress import progress_display
from hxpm.cli.render_plan import plan_dict, render_applied, render_plan
from hxpm.store.store import Store

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")]
PreOpt = Annotated[bool, typer.Option("--pre", help="Allow pre-release versions.")]


def lock(
    requirements: Annotated[list[str], typer.Argument(metavar="NAME[@SPEC]...")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE")] = Path("hxpm.lock"),
    base: BaseOpt = None,
    pre: PreOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Resolve and write a lock file that `hxpm install --locked` reproduces exactly."""
    from hxpm.services.lockfile import write_lock

    lock_file, plan = write_lock(
        Store.from_env(), requirements, output, base=base, allow_prerelease=pre
    )
    if as_json:
        emit_json("lock", {"path": str(output), **plan_dict(plan)})
        return
    say(
        f"[green]locked[/] {len(lock_file.entries)} expert(s) for "
        f"{escape(lock_file.base_model)} -> {escape(str(output))}"
    )
    render_plan(plan)


def update(
    names: Annotated[list[str] | None, typer.Argument(metavar="[NAME...]")] = None,
    base: BaseOpt = None,
    dry_run: DryRunOpt = False,
    pre: PreOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Move installed experts (all, or the ones named) to the newest allowed versions."""
    _update(names or [], base, dry_run, pre, as_json)


def upgrade(
    base: BaseOpt = None, dry_run: DryRunOpt = False, pre: PreOpt = False, as_json: JsonOpt = False
) -> None:
    """Move every installed expert to the newest allowed version."""
    _update([], base, dry_run, pre, as_json)


def _update(names: list[str], base: str | None, dry_run: bool, pre: bool, as_json: bool) -> None:
    from hxpm.services.apply import apply_plan
    from hxpm.services.update import plan_update

    store = Store.from_env()
    plan = plan_update(store, names, base=base, allow_prerelease=pre)
    if dry_run:
        if as_json:
            emit_json("update", {"dry_run": True, **plan_dict(plan)})
        else:
            render_plan(plan)
        return
    with progress_display(enabled=not as_json) as display:
        applied = apply_plan(
            store, plan, replace_old=True, on_step=display.step, progress=display.bytes_for
        )
    render_applied(plan, applied, as_json)


def register(app: typer.Typer) -> None:
    app.command()(lock)
    app.command()(update)
    app.command()(upgrade)
