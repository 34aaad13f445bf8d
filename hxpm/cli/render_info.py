"""Human rendering of `hxpm info`."""

from __future__ import annotations

import json
from typing import Any

from hxpm.cli.output import escape, say, table
from hxpm.cli.serialize import human_size
from hxpm.store.records import InstalledExpert


def render_info(
    e: InstalledExpert, other_versions: tuple[str, ...], base_match: str | None = None
) -> None:
    m = e.manifest
    constraints = m.get("constraints") or {}
    routing = m.get("routing") or {}
    signer = f"{e.publisher} (key {e.key_id})" if e.signed else "UNSIGNED (installed unsafely)"
    fields: list[tuple[str, Any]] = [
        ("name", e.name),
        ("version", e.version),
        ("description", m.get("description")),
        ("license", m.get("license")),
        ("author", m.get("author")),
        ("homepage", m.get("homepage")),
        ("base model", e.manifest_base_name),
        ("runs on", base_match),
        ("base sha256", e.base_sha256 or "(not stated)"),
        ("signed by", signer),
        ("archive sha256", e.sha256),
        ("tree sha256", e.tree_sha256),
        ("requires", ", ".join(constraints.get("requires") or []) or "-"),
        ("incompatible with", ", ".join(constraints.get("incompatible_with") or []) or "-"),
        ("load order", constraints.get("load_order", 0)),
        ("capabilities", ", ".join(m.get("capabilities") or []) or "-"),
        ("keywords", ", ".join(routing.get("keywords") or []) or "-"),
        ("priority", routing.get("priority", 0.5)),
        ("other versions", ", ".join(other_versions) or "-"),
        ("installed", f"{e.installed_at} from {e.source}"),
        ("path", str(e.path)),
    ]
    for label, value in fields:
        if value not in (None, ""):
            say(f"[bold]{label + ':':<18}[/] {escape(str(value))}")
    for key in ("limitations", "quality_metrics", "perf", "soft_prompts"):
        if m.get(key):
            say(f"[bold]{key + ':':<18}[/] {escape(json.dumps(m[key], ensure_ascii=False))}")
    say("")
    table(["file", "size", "sha256"], [(p, human_size(s), d[:16] + "…") for p, s, d in e.members])
