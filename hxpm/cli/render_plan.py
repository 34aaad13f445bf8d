"""Rendering install results and plans (text or JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.cli.serialize import expert_dict

if TYPE_CHECKING:  # types only: importing the services would load dulwich at start-up
    from hxpm.services.apply import ApplyResult
    from hxpm.services.install import InstallResult
    from hxpm.services.install_request import InstallOutcome
    from hxpm.services.plan import Plan, PlanStep


def step_dict(s: PlanStep) -> dict[str, Any]:
    c = s.candidate
    return {
        "name": c.name,
        "version": str(c.version),
        "action": s.action,
        "from_version": s.installed_version,
        "origin": c.origin,
        "requested": s.requested,
        "load_order": c.load_order,
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "base_model": plan.base_model,
        "roots": [str(r) for r in plan.roots],
        "steps": [step_dict(s) for s in plan.steps],
    }


def result_dict(r: InstallResult) -> dict[str, Any]:
    return {"action": r.action, "warnings": list(r.warnings), **expert_dict(r.expert)}


def render_plan(plan: Plan) -> None:
    table(
        ["expert", "version", "action", "from", "source"],
        [
            (
                s.candidate.name,
                str(s.candidate.version),
                s.action,
                s.installed_version or "",
                s.candidate.origin,
            )
            for s in plan.steps
        ],
        empty="nothing to do",
    )


def render_install(outcome: InstallOutcome, as_json: bool) -> None:
    if as_json:
        payload: dict[str, Any] = {
            "dry_run": outcome.dry_run,
            "results": [result_dict(r) for r in outcome.local],
        }
        if outcome.plan is not None:
            payload["plan"] = plan_dict(outcome.plan)
        if outcome.applied is not None:
            payload["results"] += [result_dict(r) for r in outcome.applied.installed]
        emit_json("install", payload)
        return
    _render_results(outcome.local)
    if outcome.plan is not None and outcome.dry_run:
        say("[bold]would change:[/]" if outcome.plan.changes else "nothing would change")
        render_plan(outcome.plan)
    elif outcome.applied is not None:
        render_applied(outcome.plan, outcome.applied, False)


def render_applied(plan: Plan | None, applied: ApplyResult, as_json: bool) -> None:
    if as_json:
        emit_json(
            "install",
            {
                "dry_run": False,
                "plan": plan_dict(plan) if plan else None,
                "results": [result_dict(r) for r in applied.installed],
                "kept": [step_dict(s) for s in applied.kept],
                "replaced": list(applied.replaced),
            },
        )
        return
    _render_results(applied.installed)
    for s in applied.kept:
        say(
            f"[dim]kept[/] {escape(s.candidate.name)} {escape(str(s.candidate.version))} "
            "(already installed)"
        )
    for r in applied.replaced:
        say(f"[dim]removed[/] {escape(r)}")


def _render_results(results: tuple[InstallResult, ...]) -> None:
    for r in results:
        for w in r.warnings:
            warn(w)
        e = r.expert
        signer = (
            f"signed by {escape(str(e.publisher))} ({escape(str(e.key_id))})"
            if e.signed
            else "[red]UNSIGNED[/]"
        )
        say(
            f"[green]{r.action}[/] {escape(e.name)} {escape(e.version)} for "
            f"{escape(e.base_model)} — {signer}"
        )
