"""install, uninstall, list, info, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hxpm.cli.options import BaseOpt, JsonOpt
from hxpm.cli.output import emit_json, escape, say, table, warn
from hxpm.cli.progress import progress_display
from hxpm.cli.render_plan import render_applied, render_install
from hxpm.cli.serialize import expert_dict, human_size
from hxpm.errors import UsageError
from hxpm.store.store import Store


def install(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SOURCE...]",
            help="NAME[@SPEC], INDEX/NAME, a Git URL (@SPEC or #TAG), "
            "a .expert file or an expert directory.",
        ),
    ] = None,
    base: BaseOpt = None,
    locked: Annotated[
        Path | None,
        typer.Option(
            "--locked", metavar="LOCKFILE", help="Install exactly what a lock file records."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    pre: Annotated[bool, typer.Option("--pre", help="Allow pre-release versions.")] = False,
    signature: Annotated[
        Path | None,
        typer.Option(
            "--signature", metavar="FILE", help="Signature file (default: PKG.sig beside it)."
        ),
    ] = None,
    unsafe_allow_unsigned: Annotated[
        bool,
        typer.Option(
            "--unsafe-allow-unsigned", help="Install even without a trusted signature (recorded)."
        ),
    ] = False,
    force_reinstall: Annotated[
        bool,
        typer.Option("--force-reinstall", help="Replace an installed copy whose contents differ."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Install experts and what they require, verifying every signature first."""
    from hxpm.services.install import InstallOptions
    from hxpm.services.install_request import InstallRequest, install_from_lock
    from hxpm.services.install_request import install as run

    args = tuple(sources or ())
    if signature is not None and len(args) != 1:
        raise UsageError("--signature applies to exactly one package file")
    if bool(args) == (locked is not None):
        raise UsageError("give what to install, or --locked LOCKFILE (not both)")

    store = Store.from_env()
    options = InstallOptions(unsafe_allow_unsigned, force_reinstall)
    with progress_display(enabled=not as_json) as display:
        if locked is not None:
            applied = install_from_lock(
                store, locked, options, on_step=display.step, progress=display.bytes_for
            )
            render_applied(None, applied, as_json)
            return
        outcome = run(
            store,
            InstallRequest(args, base, options, dry_run, pre, signature),
            on_step=display.step,
            progress=display.bytes_for,
        )
    render_install(outcome, as_json)


def uninstall(
    spec: Annotated[str, typer.Argument(metavar="NAME[@VERSION]")],
    base: BaseOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Remove even if installed experts require it.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove an expert (every version, or the one named); refuses to break dependents."""
    from hxpm.services.uninstall import uninstall as run

    result = run(Store.from_env(), spec, base=base, force=force)
    if as_json:
        emit_json(
            "uninstall",
            {"removed": [expert_dict(e) for e in result.removed], "broken": list(result.broken)},
        )
        return
    for b in result.broken:
        warn(f"left broken: {b}")
    for e in result.removed:
        say(f"[green]removed[/] {escape(e.name)} {escape(e.version)} ({escape(e.base_model)})")


def list_cmd(as_json: JsonOpt = False) -> None:
    """List installed experts; the newest version of each name is its default."""
    from hxpm.services.query import list_installed

    rows = list_installed(Store.from_env())
    if as_json:
        emit_json(
            "list", {"experts": [expert_dict(r.expert, is_default=r.is_default) for r in rows]}
        )
        return
    table(
        ["name", "version", "base model", "signed by", "size"],
        [
            (
                r.expert.name,
                r.expert.version + (" *" if r.is_default else ""),
                r.expert.base_model,
                r.expert.publisher or "UNSIGNED",
                human_size(r.expert.size),
            )
            for r in rows
        ],
        empty="no experts installed",
    )


def info(
    spec: Annotated[str, typer.Argument(metavar="NAME[@VERSION]")],
    base: BaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show an installed expert: identity, constraints, routing, files."""
    from hxpm.services.query import expert_info

    result = expert_info(Store.from_env(), spec, base=base)
    e, m = result.expert, result.expert.manifest
    if as_json:
        b = result.base
        emit_json(
            "info",
            {
                "expert": expert_dict(e),
                "other_versions": list(result.other_versions),
                "base": None
                if b is None
                else {
                    "base_model": b.base_model,
                    "manifest_base_model": b.manifest_base,
                    "match": b.match,
                    "registered": b.registered,
                    "explanation": b.explanation,
                },
                "manifest": m,
                "files": [{"path": p, "size": s, "sha256": d} for p, s, d in e.members],
            },
        )
        return
    from hxpm.cli.render_info import render_info

    render_info(e, result.other_versions, result.base.explanation if result.base else None)


def verify(
    package: Annotated[
        Path | None, typer.Argument(metavar="[PKG]", help="A .expert file to verify.")
    ] = None,
    store_flag: Annotated[
        bool,
        typer.Option(
            "--store", help="Re-hash every installed expert against its recorded digests."
        ),
    ] = False,
    signature: Annotated[Path | None, typer.Option("--signature", metavar="FILE")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a package's signature under your trust store, or the whole store (exit 5 if not)."""
    if store_flag == (package is not None):
        raise UsageError("give either a package file or --store")
    if store_flag:
        _verify_store(as_json)
        return
    from hxpm.services.verify import verify_package_file

    assert package is not None
    v = verify_package_file(Store.from_env(), package, signature)
    m = v.contents.manifest
    if as_json:
        emit_json(
            "verify",
            {
                "ok": True,
                "package": str(v.package),
                "name": m.name,
                "version": str(m.version),
                "key_id": v.signature.key_id,
                "publisher": v.signature.publisher,
                "sha256": v.contents.sha256,
                "tree_sha256": v.contents.tree_sha256,
            },
        )
        return
    say(
        f"[green]verified[/] {escape(m.name)} {escape(str(m.version))}: signed by "
        f"{escape(v.signature.publisher)} ({escape(v.signature.key_id)}), archive sha256 "
        f"{v.contents.sha256}"
    )


def _verify_store(as_json: bool) -> None:
    from hxpm.services.verify import verify_store

    report = verify_store(Store.from_env())
    if as_json:
        emit_json(
            "verify-store",
            {
                "ok": report.ok,
                "checked": report.checked,
                "problems": [{"expert": p.expert, "problem": p.problem} for p in report.problems],
            },
        )
    elif report.ok:
        say(f"[green]ok[/]: {report.checked} installed expert(s) match their recorded digests")
    else:
        for p in report.problems:
            say(f"[red]{escape(p.expert)}[/]: {escape(p.problem)}")
    if not report.ok:
        raise typer.Exit(5)


def register(app: typer.Typer) -> None:
    app.command()(install)
    app.command()(uninstall)
    app.command("list")(list_cmd)
    app.command()(info)
    app.command()(verify)
