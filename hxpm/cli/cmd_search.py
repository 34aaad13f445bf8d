"""`hxpm search`: every configured index, by text or by a prompt as the router ranks it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from hxpm.cli.options import JsonOpt
from hxpm.cli.output import emit_json, escape, say, table
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.services.search import PromptSearch, SearchResult


def search(
    term: Annotated[str, typer.Argument(metavar="TERM")] = "",
    capability: Annotated[
        str | None,
        typer.Option(
            "--capability", metavar="C", help="Only experts with this capability (tech:sql, sql)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt",
            metavar="TEXT",
            help="Rank experts for this prompt as the router would (installed or not).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search every configured index by name, keywords, capabilities and description."""
    from hxpm.services.search import search as run

    if prompt is not None:
        _search_prompt(prompt, term, capability, limit, as_json)
        return
    results = run(Store.from_env(), term, capability=capability, limit=limit)
    _render_results(results, term, as_json)


def _render_results(results: Sequence[SearchResult], term: str, as_json: bool) -> None:
    if as_json:
        emit_json(
            "search",
            {
                "results": [
                    {
                        "name": r.hit.name,
                        "version": r.hit.version,
                        "description": r.hit.description,
                        "index": r.hit.index,
                        "capabilities": list(r.hit.capabilities),
                        "keywords": list(r.hit.keywords),
                        "score": r.hit.score,
                        "installed": r.installed_version,
                    }
                    for r in results
                ]
            },
        )
        return
    table(
        ["name", "version", "index", "installed", "description"],
        [
            (
                r.hit.name,
                r.hit.version,
                r.hit.index,
                r.installed_version or "",
                r.hit.description[:60],
            )
            for r in results
        ],
        empty=f"no experts match {term!r}",
    )


def _search_prompt(
    prompt: str, term: str, capability: str | None, limit: int, as_json: bool
) -> None:
    from hxpm.errors import UsageError
    from hxpm.services.search import search_by_prompt

    if term or capability is not None:
        raise UsageError(
            "--prompt ranks by the prompt alone; it cannot be combined with TERM or --capability",
            hint='Run either `hxpm search TERM` or `hxpm search --prompt "..."`.',
        )
    found = search_by_prompt(Store.from_env(), prompt, limit=limit)
    _render_prompt_matches(found, as_json)


def _render_prompt_matches(found: PromptSearch, as_json: bool) -> None:
    if as_json:
        emit_json(
            "search-prompt",
            {
                "prompt": found.prompt,
                "chosen": found.chosen,
                "reason": found.reason,
                "results": [
                    {
                        "name": m.name,
                        "version": m.version,
                        "index": m.index,
                        "description": m.description,
                        "score": m.score,
                        "profiled": m.profiled,
                        "evidence": list(m.evidence),
                        "installed": m.installed_version,
                    }
                    for m in found.matches
                ],
            },
        )
        return
    say(f"router's pick: [bold]{escape(found.chosen or 'none (the bare base)')}[/]")
    table(
        ["name", "version", "index", "score", "installed", "description"],
        [
            (
                m.name,
                m.version,
                m.index,
                f"{m.score:.3f}",
                m.installed_version or "",
                m.description[:60],
            )
            for m in found.matches
        ],
        empty="no expert of the configured indexes matches this prompt",
    )
