"""The generated site in a real headless Chromium (Debian's, driven by Playwright): open the
home page from file://, search, open an expert page, follow a requires link, and see no
console error (a Content-Security-Policy violation is one). Skipped, with the reason
printed, where Playwright or a Chromium binary is missing (CI: `apt-get install chromium`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from hxpm.services.site import build_site

from .siteworld import index_checkout, line_doc

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


def _chromium() -> str:
    found = os.environ.get("HXPM_CHROMIUM") or shutil.which("chromium")
    found = found or shutil.which("chromium-browser")
    if not found:
        print("SKIP: no chromium binary (apt-get install chromium)")
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    return found


@pytest.fixture
def browser_page() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("SKIP: playwright is not installed (pip install playwright)")
        pytest.skip("playwright is not installed")
    executable = _chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS, timeout=TIMEOUT_MS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def test_search_open_and_follow_requires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser_page: Any
) -> None:
    monkeypatch.setenv("HXPM_HOME", str(tmp_path / "home"))
    docs = [
        line_doc(
            "expert-report",
            "1.0.0",
            description="Writes <b>reports</b>",
            requires=["expert-table@^1"],
            capabilities=["task:report"],
        ),
        line_doc("expert-table", "1.2.0", description="Reads tables"),
        line_doc("expert-other", "0.1.0", description="Something else", capabilities=["tech:x"]),
    ]
    index_checkout(tmp_path / "index", docs)
    build_site(str(tmp_path / "index"), tmp_path / "site", offline=True)
    page = browser_page
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto((tmp_path / "site" / "index.html").as_uri())
    assert page.inner_text("#count") == "3 experts"
    page.keyboard.press("/")  # the keyboard shortcut focuses the search box
    page.keyboard.type("report")
    assert page.inner_text("#count") == "1 expert"
    assert page.locator("#results a").all_inner_texts() == ["expert-report"]
    page.select_option("#cap", "tech:x")
    assert page.inner_text("#count") == "0 experts"
    page.select_option("#cap", "")
    assert "<b>reports</b>" in page.inner_text("#results")  # shown as text, not markup

    page.click("#results a")
    assert page.title().startswith("expert-report")
    page.click("main ul a[href='expert-table.html']")
    assert page.title().startswith("expert-table")
    assert page.inner_text("h1").startswith("expert-table")
    assert problems == []
