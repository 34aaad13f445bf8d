"""The site generator on values: pages, data.js, graph, determinism, stale pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hxpm.errors import UsageError
from hxpm.site.build import MARKER, write_site
from hxpm.site.graph import dependency_graph, render_svg
from hxpm.site.markdown import render_readme
from hxpm.site.model import ExpertDocs, SiteIndex, newest_line, quality_pairs

from .siteworld import index_key, line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "original-ecosystem" / "manifests"


def _site(**changes: object) -> SiteIndex:
    experts = {
        "expert-app": (
            line("expert-app", "1.0.0", requires=["expert-json@^1.0", "expert-gone"]),
            line(
                "expert-app",
                "1.1.0",
                requires=["expert-json@^1.0", "expert-gone"],
                incompatible_with=["expert-old"],
                created="2026-03-01T00:00:00Z",
            ),
            line("expert-app", "2.0.0-rc.1", created="2026-04-01T00:00:00Z"),
        ),
        "expert-json": (
            line("expert-json", "1.0.0", capabilities=["format:json"], requires=["expert-base"]),
            line("expert-json", "1.2.0", yanked=True, capabilities=["format:json"]),
        ),
        "expert-base": (line("expert-base", "0.1.0"),),
        "expert-old": (line("expert-old", "0.1.0"),),
    }
    neo4j = json.loads((FIXTURES / "expert-neo4j" / "manifest.json").read_text())
    values: dict[str, object] = {
        "name": "test-index",
        "description": "Test index",
        "commit": "a" * 40,
        "keys": (index_key(),),
        "experts": experts,
        "docs": {
            "expert-app": ExpertDocs(
                readme="# App\n\nSee [docs](https://example.org/docs).",
                quality=quality_pairs(neo4j["quality_metrics"]),
            )
        },
        "install_url": "https://git.example.invalid/index.git",
    }
    values.update(changes)
    return SiteIndex(**values)  # type: ignore[arg-type]


def test_newest_prefers_stable_not_yanked() -> None:
    site = _site()
    assert str(newest_line(site.experts["expert-app"]).version) == "1.1.0"
    # 1.2.0 is yanked, so the page leads with 1.0.0
    assert str(newest_line(site.experts["expert-json"]).version) == "1.0.0"


def test_writes_every_page_and_search_data(tmp_path: Path) -> None:
    stats = write_site(_site(), tmp_path / "site")
    out = tmp_path / "site"
    assert stats.experts == 4 and stats.keys == 1
    names = sorted(p.name for p in (out / "experts").iterdir())
    assert names == [
        "expert-app.html",
        "expert-base.html",
        "expert-json.html",
        "expert-old.html",
    ]
    data = (out / "data.js").read_text()
    assert data.startswith("window.HXPM_SITE = ") and data.endswith(";\n")
    doc = json.loads(data.removeprefix("window.HXPM_SITE = ").removesuffix(";\n"))
    app = next(e for e in doc["experts"] if e["n"] == "expert-app")
    assert app["v"] == "1.1.0" and app["m"] == 3 and app["p"] == "2026-03-01"
    assert ["format:json", 1] in doc["capabilities"]
    assert doc["bases"] == [["hxpm/tiny-qwen3", 4]]
    home = (out / "index.html").read_text()
    assert '<script src="data.js"></script><script src="site.js"></script>' in home
    assert '<label for="q">' in home and 'id="results"' in home


def test_expert_page_content(tmp_path: Path) -> None:
    write_site(_site(), tmp_path)
    page = (tmp_path / "experts" / "expert-app.html").read_text()
    assert "hxpm index add test-index https://git.example.invalid/index.git\n" in page
    assert "hxpm install expert-app@1.1.0" in page
    assert '<a href="expert-json.html">expert-json</a> <code>^1.0</code>' in page
    assert "expert-gone <span" in page and "(not in this index)" in page
    assert '<h2>Incompatible with</h2><ul><li><a href="expert-old.html">' in page
    # every version, newest first, with the signed date
    rows = [page.index(f"<tr><td>{v}</td>") for v in ("2.0.0-rc.1", "1.1.0", "1.0.0")]
    assert rows == sorted(rows)
    assert '<time datetime="2026-03-01T00:00:00Z">2026-03-01</time>' in page
    assert "hxpm/tiny-qwen3 — 120.6 KiB" in page
    # quality metrics from a real manifest of the older tool
    assert "Base model <strong>6.64</strong> → with this expert <strong>9.13</strong>" in page
    # the signer as the index states it, and its page
    key_id = index_key().key_id
    assert f'<a href="../keys/{key_id}.html"><code>{key_id}</code></a> — Site Tests' in page
    assert "<h3>App</h3>" in page and 'href="https://example.org/docs"' in page
    assert "<svg" in page and '<a href="expert-base.html">' in page  # the graph, 2 levels
    json_page = (tmp_path / "experts" / "expert-json.html").read_text()
    assert '<span class="yanked">yanked</span>' in json_page
    assert "README not fetched." in json_page
    key_page = (tmp_path / "keys" / f"{key_id}.html").read_text()
    assert "Site Tests" in key_page and '<a href="../experts/expert-app.html">' in key_page
    assert "2.0.0-rc.1 and 2 older" in key_page


def test_same_index_same_bytes(tmp_path: Path) -> None:
    write_site(_site(), tmp_path / "a")
    write_site(_site(), tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert files_a == files_b
    for rel in files_a:
        if (tmp_path / "a" / rel).is_file():
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_rebuild_removes_stale_pages_and_refuses_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "site"
    write_site(_site(), out)
    smaller = {k: v for k, v in _site().experts.items() if k != "expert-old"}
    write_site(_site(experts=smaller), out)
    assert not (out / "experts" / "expert-old.html").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(UsageError, match="not made by `hxpm index site`"):
        write_site(_site(), foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
    assert (out / MARKER).is_file()


def test_graph_handles_cycles_and_missing() -> None:
    experts = {
        "expert-a": (line("expert-a", "1.0.0", requires=["expert-b"]),),
        "expert-b": (line("expert-b", "1.0.0", requires=["expert-a", "expert-c@>=9"]),),
    }
    graph = dependency_graph(experts["expert-a"][0], experts)
    assert [(n.name, n.version, n.depth) for n in graph.nodes] == [
        ("expert-a", "1.0.0", 0),
        ("expert-b", "1.0.0", 1),
        ("expert-c", None, 2),
    ]
    assert ("expert-b", "expert-a") in graph.edges  # the cycle is drawn, not followed
    svg = render_svg(graph)
    assert svg.count("<rect") == 3 and "expert-c (not in index)" in svg
    assert render_svg(dependency_graph(line("expert-z", "1.0.0"), {})) == ""


def test_markdown_is_sanitised() -> None:
    html, truncated = render_readme(
        "# T\n<script>alert(1)</script>\n[a](javascript:alert(1)) [b](JaVaScRiPt:x) "
        "[c](data:text/html;base64,PHNjcmlwdD4=) [d](relative/file.md) [e](https://ok.example)\n"
        '<img src=x onerror="alert(1)">\n![pic](https://tracker.example/p.png)\n<!-- hidden -->'
    )
    assert not truncated
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["https://ok.example", "https://tracker.example/p.png"]
    assert "[image: pic]" in html and "hidden" not in html
    assert "<h3>T</h3>" in html


def test_quality_pairs_keeps_scalars_only() -> None:
    pairs = quality_pairs(
        {"benchmark_score": 1.5, "base_model_score": 1, "nested": {"x": 1}, "_comment": "c"}
    )
    assert pairs == (("base_model_score", "1"), ("benchmark_score", "1.5"), ("_comment", "c"))
    assert quality_pairs(["not", "an", "object"]) == ()
