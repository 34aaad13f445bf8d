"""A long-lived process resolves each named set once (Catalog caches it), and sees an
uninstall by another process at its next request."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hxpm.errors import NotFoundError


def test_named_sets_are_cached_until_the_installed_rows_change(demo_home, tmp_path, monkeypatch):
    from hxpm.services.catalog import Catalog
    from hxpm.store.store import Store

    home = tmp_path / "home"
    shutil.copytree(demo_home, home)
    monkeypatch.setenv("HXPM_HOME", str(home))
    catalog = Catalog(Store.from_env())
    first = catalog.choose("expert-sql", "")
    assert [e.name for e in first.experts] == ["expert-sql"]
    again = catalog.choose(" expert-sql ", "")
    assert again.experts is first.experts  # resolved once, not per request
    assert again.why == first.why == "asked for: expert-sql"

    env = {**os.environ, "HXPM_HOME": str(home), "HXPM_OFFLINE": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "hxpm", "uninstall", "expert-sql"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    with pytest.raises(NotFoundError) as caught:
        catalog.choose("expert-sql", "")
    assert "expert-json" in caught.value.details["available"]


def test_the_cache_keeps_the_names_apart(demo_home, monkeypatch):
    from hxpm.services.catalog import Catalog
    from hxpm.store.store import Store

    monkeypatch.setenv("HXPM_HOME", str(Path(demo_home)))
    catalog = Catalog(Store.from_env())
    both = catalog.choose("expert-sql+expert-python", "")
    one = catalog.choose("expert-python", "")
    assert {e.name for e in both.experts} == {"expert-sql", "expert-python"}
    assert [e.name for e in one.experts] == ["expert-python"]
