"""How ``hxpm route PROMPT`` shows a decision; shared by the typer command and the lean path
(hxpm/cli/lean.py), so both print the same bytes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from hxpm.cli.output import emit_json, escape, inert, say, table

if TYPE_CHECKING:
    from hxpm.services.routing import Routed


def render_routed(routed: Routed, *, as_json: bool, explain: bool) -> None:
    d = routed.decision
    names = list(routed.expert_set.names) if routed.expert_set else []
    if as_json:
        emit_json("route", {"decision": d.to_dict(), "experts": names})
        return
    target = " + ".join(names) if names else "the bare base model"
    if not explain:
        # One plain line: loading rich to print it would cost more than routing did.
        sys.stdout.write(inert(f"{target} — {d.reason}") + "\n")
        return
    say(f"[bold]{escape(target)}[/] — {escape(d.reason)}")
    table(
        ["expert", "score", "evidence"],
        [(s.name, f"{s.score:.3f}", "; ".join(s.reasons)) for s in d.scores],
        empty="no experts installed for this base",
    )
