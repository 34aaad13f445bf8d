"""`hxpm index site` end to end on real Git repositories: an index checkout, expert repos
read at their pinned commit through hxpm's Git layer (file:// remotes), the offline path,
a bad expert file, and hostile content rendered inert."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hxpm.errors import NotFoundError
from hxpm.services.site import build_site
from hxpm.site.markdown import MAX_README_CHARS

from .siteworld import git_repo, index_checkout, line_doc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "original-ecosystem"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HXPM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HXPM_OFFLINE", raising=False)
    return tmp_path / "home"


def _expert_repo(
    tmp_path: Path, name: str, readme: bytes, manifest: bytes | None
) -> dict[str, str]:
    files = {"README.md": readme}
    if manifest is not None:
        files["manifest.json"] = manifest
    commit = git_repo(tmp_path / "repos" / name, files)
    url = (tmp_path / "repos" / name).as_uri()
    return {"git": url, "tag": "v1.0.0", "commit": commit}


def _world(tmp_path: Path) -> Path:
    neo4j = (FIXTURES / "manifests" / "expert-neo4j" / "manifest.json").read_bytes()
    docs = [
        line_doc(
            "expert-graph",
            "1.0.0",
            source=_expert_repo(tmp_path, "expert-graph", b"# Graph\n\nCypher help.\n", neo4j),
            requires=["expert-json@^1"],
        ),
        line_doc("expert-json", "1.0.0"),  # its repo does not exist: a note, not a failure
    ]
    index_checkout(tmp_path / "index", docs)
    return tmp_path / "index"


def test_builds_from_checkout_with_readme_and_quality(tmp_path: Path, home: Path) -> None:
    build = build_site(str(_world(tmp_path)), tmp_path / "site")
    assert build.index == "site-tests" and build.readmes == 1 and not build.skipped
    page = (tmp_path / "site" / "experts" / "expert-graph.html").read_text()
    assert "<h3>Graph</h3>" in page and "Cypher help." in page
    assert "Base model <strong>6.64</strong> → with this expert <strong>9.13</strong>" in page
    assert "hxpm index add site-tests INDEX-URL" in page
    other = (tmp_path / "site" / "experts" / "expert-json.html").read_text()
    assert "README not shown:" in other


def test_offline_uses_the_cache_only(tmp_path: Path, home: Path) -> None:
    world = _world(tmp_path)
    offline = build_site(str(world), tmp_path / "cold", offline=True)
    assert offline.readmes == 0
    page = (tmp_path / "cold" / "experts" / "expert-graph.html").read_text()
    assert "built offline and not in the cache" in page
    build_site(str(world), tmp_path / "warm")  # fills the repository cache
    again = build_site(str(world), tmp_path / "warm-offline", offline=True)
    assert again.readmes == 1
    for rel in ("index.html", "data.js", "experts/expert-graph.html"):
        warm = (tmp_path / "warm" / rel).read_bytes()
        assert warm == (tmp_path / "warm-offline" / rel).read_bytes()


def test_bad_expert_file_is_left_out_and_reported(tmp_path: Path, home: Path) -> None:
    good = json.dumps(line_doc("expert-good", "1.0.0"))
    git_repo(
        tmp_path / "index",
        {
            "config.json": b'{"format":"hxpm-index/1","name":"t","description":"","keys":{}}',
            "experts/ex/pe/expert-good": good.encode() + b"\n",
            "experts/ex/pe/expert-bad": b'{"v":1,"name":"expert-bad"}\n',
        },
    )
    build = build_site(str(tmp_path / "index"), tmp_path / "site", offline=True)
    assert [p for p, _ in build.skipped] == ["experts/ex/pe/expert-bad"]
    assert (tmp_path / "site" / "experts" / "expert-good.html").exists()
    assert not (tmp_path / "site" / "experts" / "expert-bad.html").exists()


def test_unknown_source_is_not_found(tmp_path: Path, home: Path) -> None:
    with pytest.raises(NotFoundError, match="neither an index checkout nor a configured index"):
        build_site("nosuch", tmp_path / "site")


class _Audit(HTMLParser):
    """Collects what could act in a browser: scripts, event handlers, URLs, embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ours = tag == "form" and dict(attrs).get("id") == "search"  # the home page's own
        if tag in ("iframe", "object", "embed", "img", "form", "base") and not ours:
            self.problems.append(f"<{tag}>")
        if tag == "script" and (dict(attrs).get("src") or "").rsplit("/", 1)[-1] not in (
            "data.js",
            "site.js",
        ):
            self.problems.append(f"script {attrs}")
        for key, value in attrs:
            if key.startswith("on"):
                self.problems.append(f"handler {key}")
            if key in ("href", "src", "action", "xlink:href") and value is not None:
                ok = re.match(
                    r"^(https?://|mailto:|#|\.\./|[a-z0-9-]+(\.html|\.css|\.js)|"
                    r"experts/|keys/|index\.html)",
                    value,
                )
                if not ok:
                    self.problems.append(f"{key}={value!r}")


def test_hostile_content_is_inert(tmp_path: Path, home: Path) -> None:
    big = (b"# Big\n\n" + b"word " * 1_200_000)[: 5 * 1024 * 1024]
    readme = (
        f"# Evil\n{HOSTILE}\n[click](javascript:alert(1)) [d](data:text/html,<script>x</script>)\n"
        "[v](vbscript:msgbox) <a href='javascript:alert(2)'>raw</a>\n"
    ).encode()
    docs = [
        line_doc(
            "expert-evil",
            "1.0.0",
            description=HOSTILE + " javascript:alert(3)",
            capabilities=["tech:sql"],
            routing={"keywords": [HOSTILE], "exclude_keywords": [], "priority": 0.5},
            source=_expert_repo(
                tmp_path,
                "expert-evil",
                readme,
                b'{"quality_metrics":{"benchmark_score":"<script>q</script>"}}',
            ),
            base='evil"><script>b</script>',
        ),
        line_doc("expert-big", "1.0.0", source=_expert_repo(tmp_path, "expert-big", big, None)),
    ]
    index_checkout(tmp_path / "index", docs, name=f"idx {HOSTILE}", owner=HOSTILE)
    build_site(str(tmp_path / "index"), tmp_path / "site", install_url="https://x/i.git")
    site = tmp_path / "site"
    for page in sorted(site.rglob("*.html")):
        audit = _Audit()
        audit.feed(page.read_text())
        assert audit.problems == [], (page.name, audit.problems)
        assert "<script>" not in page.read_text()
    evil = (site / "experts" / "expert-evil.html").read_text()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in evil
    data = (site / "data.js").read_text()
    assert data.isascii() and "<" not in data  # nothing could end or open a script
    big_page = (site / "experts" / "expert-big.html").read_bytes()
    assert b"the rest is not shown here" in big_page
    assert MAX_README_CHARS < len(big_page) < MAX_README_CHARS + 20_000


def test_cli_json_and_error(tmp_path: Path, home: Path) -> None:
    world = _world(tmp_path)
    env = {**os.environ, "HXPM_HOME": str(home)}
    cmd = [sys.executable, "-m", "hxpm", "--offline", "index", "site", str(world)]
    done = subprocess.run([*cmd, "-o", str(tmp_path / "s"), "--json"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "hxpm.index-site/1" and doc["experts"] == 2 and doc["readmes"] == 0
    cmd[-1] = "nosuch"
    done = subprocess.run([*cmd, "-o", str(tmp_path / "t")], env=env, capture_output=True)
    assert done.returncode == 4 and b"Traceback" not in done.stderr
    assert b"neither an index checkout nor a configured index" in done.stderr
    assert not (tmp_path / "t").exists()


def test_builds_from_a_configured_index_name(tmp_path: Path, home: Path) -> None:
    from hxpm.services.indexes import add_index
    from hxpm.store.store import Store

    world = _world(tmp_path)
    store = Store.from_env()
    add_index(store, "tests", world.as_uri())
    by_name = build_site("tests", tmp_path / "by-name", store=store, offline=True)
    assert by_name.index == "site-tests" and by_name.stats.experts == 2
    page = (tmp_path / "by-name" / "experts" / "expert-graph.html").read_text()
    assert f"hxpm index add site-tests {world.as_uri()}" in page  # the URL users add it by
