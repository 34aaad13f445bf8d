"""Write a site: home page, data.js, one page per expert and per publisher key.

Deterministic: every list is sorted, nothing of the build's time or machine is written, so
the same index gives the same bytes (a host can diff or cache them). Pages are written
atomically; pages a previous build left for experts or keys that are gone are removed, and
only in a folder that this generator made (it holds :data:`MARKER`), so a mistyped ``-o``
never empties someone's folder.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hxpm.core.names import is_valid_name
from hxpm.errors import StoreError, UsageError
from hxpm.site.assets import SITE_JS, STYLE_CSS
from hxpm.site.expert_page import expert_page
from hxpm.site.model import SiteIndex, newest_line, published
from hxpm.site.pages import KEY_ID_RE, home_page, key_page

MARKER = ".hxpm-site"
MARKER_TEXT = b"Written by `hxpm index site`; the next build may replace everything here.\n"
MAX_LISTED_DESCRIPTION = 300


@dataclass(frozen=True, slots=True)
class SiteStats:
    outdir: Path
    experts: int
    keys: int
    files: int
    bytes: int


def write_site(site: SiteIndex, outdir: Path) -> SiteStats:
    """Write ``site`` into ``outdir`` (created if missing).

    Raises:
        UsageError: ``outdir`` is a file, or a non-empty folder this generator did not make.
        StoreError: a file cannot be written.
    """
    outdir = _prepare(outdir)
    files: dict[str, bytes] = {
        MARKER: MARKER_TEXT,
        ".nojekyll": b"",  # GitHub Pages: serve the files as they are
        "style.css": STYLE_CSS.encode(),
        "site.js": SITE_JS.encode(),
        "data.js": data_js(site),
        "index.html": home_page(
            site.name, site.description, site.commit, len(site.experts)
        ).encode(),
    }
    for name in sorted(site.experts):
        if is_valid_name(name):  # the model checks it too; a page file is named after it
            files[f"experts/{name}.html"] = expert_page(site, name).encode()
    for key_id, signed in sorted(_signed_by_key(site).items()):
        if KEY_ID_RE.match(key_id):
            listed = next((k for k in site.keys if k.key_id == key_id), None)
            files[f"keys/{key_id}.html"] = key_page(site.name, key_id, listed, signed).encode()
    try:
        for rel, data in files.items():
            _write(outdir / rel, data)
        _remove_stale(outdir, files)
    except OSError as exc:
        raise StoreError(f"cannot write the site into {outdir}: {exc.strerror or exc}") from None
    keys = sum(1 for rel in files if rel.startswith("keys/"))
    return SiteStats(outdir, len(site.experts), keys, len(files), sum(map(len, files.values())))


def data_js(site: SiteIndex) -> bytes:
    """What the home page searches, as a script assigning one JSON object (ASCII only)."""
    caps: Counter[str] = Counter()
    bases: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    for name in sorted(site.experts):
        lines = site.experts[name]
        newest = newest_line(lines)
        row_bases = sorted({v.base_model for v in newest.variants})
        caps.update(set(newest.capabilities))
        bases.update(row_bases)
        rows.append(
            {
                "n": name,
                "v": str(newest.version),
                "d": newest.description[:MAX_LISTED_DESCRIPTION],
                "c": list(newest.capabilities),
                "k": [k.lower() for k in newest.keywords],
                "b": row_bases,
                "p": published(newest)[:10],
                "m": len(lines),
                "y": int(newest.yanked),
            }
        )
    doc = {
        "index": site.name,
        "capabilities": sorted(caps.items()),
        "bases": sorted(bases.items()),
        "experts": rows,
    }
    text = json.dumps(doc, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    # ensure_ascii leaves no U+2028/U+2029; < > & only occur inside strings, where their
    # \u escapes mean the same, so the data stays inert even if someone inlines the file
    # into a page. A JSON document is a JavaScript expression.
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return f"window.HXPM_SITE = {text};\n".encode("ascii")


def _signed_by_key(site: SiteIndex) -> dict[str, list[tuple[str, list[str]]]]:
    signed: dict[str, list[tuple[str, list[str]]]] = {k.key_id: [] for k in site.keys}
    for name in sorted(site.experts):
        per_key: dict[str, list[str]] = {}
        for line in site.experts[name]:
            for key_id in sorted({v.key_id for v in line.variants}):
                per_key.setdefault(key_id, []).append(str(line.version))
        for key_id, versions in per_key.items():
            signed.setdefault(key_id, []).append((name, versions))
    return signed


def _prepare(outdir: Path) -> Path:
    outdir = outdir.expanduser()
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"-o {outdir}: expected a folder, got a file")
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / MARKER).is_file():
        raise UsageError(
            f"-o {outdir}: the folder is not empty and was not made by `hxpm index site`",
            hint="Name an empty or new folder (the build replaces what it made before).",
        )
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {outdir}: {exc.strerror or exc}") from None
    return outdir


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_bytes() == data:
            return  # unchanged: keep its mtime (static hosts and rsync skip it)
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _remove_stale(outdir: Path, written: dict[str, bytes]) -> None:
    for folder in ("experts", "keys"):
        for page in sorted((outdir / folder).glob("*.html")):
            if f"{folder}/{page.name}" not in written:
                page.unlink()
