"""The page of one expert: what it is, how to install it, every version, who signed it.

Every index or repository string goes through :func:`esc`; the README arrives already
sanitised from :mod:`hxpm.site.markdown`; the graph from :mod:`hxpm.site.graph` escapes its
own labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hxpm.core.versions import Requirement
from hxpm.index.config import IndexKey
from hxpm.index.model import VersionLine
from hxpm.site.graph import dependency_graph, pick, render_svg
from hxpm.site.markdown import MAX_README_CHARS, TRUNCATED_NOTE, render_readme, safe_href
from hxpm.site.model import ExpertDocs, SiteIndex, newest_line, published
from hxpm.site.pages import KEY_ID_RE, esc, install_commands, shell

NO_DESCRIPTION = '<span class="muted">No description.</span>'


def expert_page(site: SiteIndex, name: str) -> str:
    lines = site.experts[name]
    newest = newest_line(lines)
    docs = site.docs.get(name, ExpertDocs(note="README not fetched."))
    spec = f"{name}@{newest.version}"
    sections = [
        f'<h1>{esc(name)} <span class="muted">{esc(newest.version)}</span></h1>',
        f"<p>{esc(newest.description) or NO_DESCRIPTION}</p>",
        _tags(newest),
        "<h2>Install</h2>",
        f"<pre><code>{esc(install_commands(site.name, site.install_url, spec))}</code></pre>",
        _relations(site.experts, newest),
        _graph(site.experts, newest),
        _routing(newest),
        _quality(docs),
        _signers(site.keys, lines),
        _versions(lines),
        _source(newest),
        _readme(docs),
    ]
    return shell(
        f"{name} — {site.name}",
        "\n".join(s for s in sections if s),
        root="../",
        index_name=site.name,
    )


def _tags(line: VersionLine) -> str:
    caps = "".join(
        f'<a class="tag" href="../index.html#cap={esc(c)}">{esc(c)}</a>' for c in line.capabilities
    )
    return f'<p aria-label="Capabilities">{caps}</p>' if caps else ""


def _requirement(experts: Mapping[str, Sequence[VersionLine]], req: Requirement) -> str:
    spec = "" if req.spec.is_any else f" <code>{esc(req.spec)}</code>"
    if req.name in experts:
        chosen = pick(experts[req.name], req.allows)
        found = "" if chosen else ' <span class="muted">(no version in this index matches)</span>'
        return f'<li><a href="{req.name}.html">{esc(req.name)}</a>{spec}{found}</li>'
    return f'<li>{esc(req.name)}{spec} <span class="muted">(not in this index)</span></li>'


def _relations(experts: Mapping[str, Sequence[VersionLine]], line: VersionLine) -> str:
    out = []
    for title, reqs in (("Requires", line.requires), ("Incompatible with", line.incompatible_with)):
        if reqs:
            items = "".join(_requirement(experts, r) for r in reqs)
            out.append(f"<h2>{title}</h2><ul>{items}</ul>")
    return "".join(out)


def _graph(experts: Mapping[str, Sequence[VersionLine]], line: VersionLine) -> str:
    svg = render_svg(dependency_graph(line, experts))
    if not svg:
        return ""
    return f"<h2>Dependency graph of {esc(line.version)}</h2><figure>{svg}</figure>"


def _routing(line: VersionLine) -> str:
    if not (line.keywords or line.exclude_keywords):
        return ""
    keep = ", ".join(esc(k) for k in line.keywords) or "none"
    drop = ", ".join(esc(k) for k in line.exclude_keywords) or "none"
    return (
        f"<h2>Routing</h2><dl><dt>Keywords</dt><dd>{keep}</dd><dt>Excluded keywords</dt>"
        f"<dd>{drop}</dd><dt>Priority</dt><dd>{line.priority:g}</dd></dl>"
    )


def _quality(docs: ExpertDocs) -> str:
    if not docs.quality:
        return ""
    shown = dict(docs.quality)
    lead = ""
    if "base_model_score" in shown and "benchmark_score" in shown:
        lead = (
            f"<p>Base model <strong>{esc(shown['base_model_score'])}</strong> → with this "
            f"expert <strong>{esc(shown['benchmark_score'])}</strong> (as its manifest states)."
            "</p>"
        )
    rows = "".join(
        f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in docs.quality
    )
    return f"<h2>Quality metrics</h2>{lead}<table>{rows}</table>"


def _signers(keys: Sequence[IndexKey], lines: Sequence[VersionLine]) -> str:
    listed = {k.key_id: k for k in keys}
    ids = sorted({v.key_id for ln in lines for v in ln.variants})
    items = []
    for key_id in ids:
        key = listed.get(key_id)
        who = (
            f"{esc(key.owner)}"
            + (
                ""
                if key.covers(lines[0].name)
                else ' <span class="yanked">(not listed for this expert)</span>'
            )
            if key
            else '<span class="yanked">not listed by this index</span>'
        )
        link = (
            f'<a href="../keys/{key_id}.html"><code>{esc(key_id)}</code></a>'
            if KEY_ID_RE.match(key_id)
            else f"<code>{esc(key_id)}</code>"
        )
        items.append(f"<li>{link} — {who}</li>")
    return f"<h2>Signed by</h2><ul>{''.join(items)}</ul>"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _versions(lines: Sequence[VersionLine]) -> str:
    rows = []
    for line in sorted(lines, key=lambda ln: ln.version, reverse=True):
        when = published(line)
        variants = "<br>".join(f"{esc(v.base_model)} — {_size(v.size)}" for v in line.variants)
        state = '<span class="yanked">yanked</span>' if line.yanked else "available"
        rows.append(
            f'<tr><td>{esc(line.version)}</td><td><time datetime="{esc(when)}">'
            f"{esc(when[:10])}</time></td><td>{state}</td><td>{variants}</td></tr>"
        )
    return (
        f'<h2>Versions ({len(lines)})</h2><table><thead><tr><th scope="col">Version</th>'
        '<th scope="col">Signed</th><th scope="col">State</th><th scope="col">'
        "Base models and sizes</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _source(line: VersionLine) -> str:
    url = line.source.git
    href = safe_href(url) if url.startswith("https://") else None
    shown = (
        f'<a href="{esc(href)}" rel="nofollow noopener noreferrer">{esc(url)}</a>'
        if href
        else f"<code>{esc(url)}</code>"
    )
    return (
        f"<h2>Source</h2><p>{shown} at tag <code>{esc(line.source.tag)}</code>, commit "
        f"<code>{esc(line.source.commit)}</code></p>"
    )


def _readme(docs: ExpertDocs) -> str:
    if docs.readme is None:
        return f'<h2>README</h2><p class="note">{esc(docs.note or "No README.")}</p>'
    body, truncated = render_readme(docs.readme)
    note = (
        f'<p class="note">{esc(TRUNCATED_NOTE.format(limit=MAX_README_CHARS))}</p>'
        if truncated
        else ""
    )
    return f'<h2>README</h2>{note}<div class="readme">{body}</div>{note}'
