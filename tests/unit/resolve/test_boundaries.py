"""Module boundaries of hxpm.resolve (style-anchors §7) and provider invariants."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hxpm.core.versions import Version, parse_spec
from hxpm.resolve.model import InMemorySource
from hxpm.resolve.provider import ExpertProvider, _masks

from .builders import BASE, cand

ROOT = Path(__file__).resolve().parents[3]
IMPORT_RE = re.compile(r"^\s*(?:import|from)\s+resolvelib\b", re.MULTILINE)


def test_resolvelib_is_imported_only_inside_hxpm_resolve() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "hxpm").rglob("*.py")
        if IMPORT_RE.search(path.read_text(encoding="utf-8"))
        and (ROOT / "hxpm" / "resolve") not in path.parents
    ]
    assert offenders == []


def test_importing_the_model_does_not_load_resolvelib() -> None:
    code = "import sys, hxpm.resolve.model; print('resolvelib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_package_exports_load_lazily() -> None:
    import hxpm.resolve as pkg

    assert pkg.resolve.__name__ == "resolve"
    with pytest.raises(AttributeError):
        pkg.nothing_here  # noqa: B018


VERSIONS = [
    "0.1.0",
    "0.9.9",
    "1.0.0-alpha",
    "1.0.0-rc.1",
    "1.0.0",
    "1.2.3",
    "1.2.4-beta.2",
    "1.2.4",
    "1.3.0",
    "2.0.0-0",
    "2.0.0",
    "3.1.4",
]
SPECS = [
    "*",
    "1.2.3",
    "^1.2",
    "~1.2",
    ">=1.0.0,<2.0.0",
    ">=1.0.0-rc.0",
    "^0.1",
    "<1.0.0",
    "1.2.4-beta.2",
    ">1.2.3",
    "!=1.2.3",
    "~1.2.4-beta.1",
    "2",
]


@pytest.mark.parametrize("spec_text", SPECS)
def test_masks_agree_with_version_spec(spec_text: str) -> None:
    # The bit masks are a cache of VersionSpec; they must never disagree with it.
    provider = ExpertProvider(
        InMemorySource([cand("expert-b", v) for v in VERSIONS]),
        base_model=BASE,
        base_sha256=None,
        allow_prerelease=False,
        prefer_installed=True,
        locked=None,
    )
    info = provider.info("expert-b")
    spec = parse_spec(spec_text)
    loose, pre_named, _ = _masks(info, spec)
    for pick in info.picks[:-1]:
        assert pick.candidate is not None
        version: Version = pick.candidate.version
        assert bool(loose & pick.bit) == spec.allows(version, allow_prerelease=True)
        if version.is_prerelease:
            assert bool(pre_named & pick.bit) == spec.allows(version)


def test_picks_are_newest_first_and_absent_is_last() -> None:
    provider = ExpertProvider(
        InMemorySource([cand("expert-b", v) for v in VERSIONS]),
        base_model=BASE,
        base_sha256=None,
        allow_prerelease=False,
        prefer_installed=True,
        locked=None,
    )
    picks = provider.info("expert-b").picks
    versions = [p.candidate.version for p in picks[:-1] if p.candidate is not None]
    assert versions == sorted(versions, reverse=True)
    assert picks[-1].candidate is None


def test_debug_reporter_logs_pins(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from .builders import run

    monkeypatch.setenv("HXPM_RESOLVER_DEBUG", "1")
    with caplog.at_level(logging.DEBUG, logger="hxpm.resolve"):
        run(["expert-b"], [cand("expert-b", "1.0.0")])
    assert any("pinning" in r.getMessage() for r in caplog.records)
