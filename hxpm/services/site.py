"""`hxpm index site`: a static catalog of one index (docs/site.md).

The index is read at one commit, either from a checkout (``CHECKOUT``: its HEAD) or from
the bare cache of a configured index (``NAME``: its last accepted commit); each expert's
README and ``quality_metrics`` come from its repository at the pinned commit of its newest
version, through the Git layer and the same repository caches `hxpm install` fills. Offline,
only cached commits are read: a missing README becomes a note on the page, never a failure.
An expert file that does not parse is left out and reported, as `index update` would leave
it unusable, so one bad file does not hide the rest of the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import HxpmError, NotFoundError, UsageError
from hxpm.index import git
from hxpm.index.config import MAX_CONFIG_BYTES, IndexConfig
from hxpm.index.expert_file import MAX_EXPERT_FILE_BYTES, parse_expert_file
from hxpm.index.model import VersionLine, shard_path
from hxpm.index.sparse import is_sparse_url
from hxpm.index.urls import normalise_git_url
from hxpm.site.build import SiteStats, write_site
from hxpm.site.model import ExpertDocs, SiteIndex, newest_line, quality_pairs
from hxpm.store.lock import store_lock
from hxpm.store.paths import StorePaths
from hxpm.store.store import Store
from hxpm.transport import is_offline

EXPERTS_DIR = "experts/"
README_NAMES = ("README.md", "readme.md", "README")
# Past this a README is not read at all (a note says so); below it, the page shows the
# first hxpm.site.markdown.MAX_README_CHARS characters.
MAX_README_BYTES = 8 << 20
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class SiteBuild:
    stats: SiteStats
    index: str
    commit: str
    skipped: tuple[tuple[str, str], ...]  # (expert file, why it was left out)
    readmes: int  # experts whose README was shown


def build_site(
    source: str,
    outdir: Path,
    *,
    install_url: str | None = None,
    offline: bool = False,
    store: Store | None = None,
) -> SiteBuild:
    """Write the site of the index ``source`` (a checkout path, or a configured index name).

    Raises:
        NotFoundError: ``source`` is neither an index checkout nor a configured index.
        UsageError: a sparse index (build from its Git checkout), or a bad ``-o``.
        IndexDataError: the index's ``config.json`` is invalid.
        StoreError: the site cannot be written.
    """
    offline = offline or is_offline()
    repo, commit, url = _locate(source, store)
    config = IndexConfig.from_bytes(
        git.read_file(repo, commit, "config.json", max_bytes=MAX_CONFIG_BYTES),
        source=f"{source}: config.json",
    )
    experts, skipped = read_experts(repo, commit, where=source)
    paths = store.paths if store is not None else StorePaths.from_env()
    docs = {
        name: expert_docs(paths, newest_line(lines), offline=offline)
        for name, lines in experts.items()
    }
    site = SiteIndex(
        name=config.name,
        description=config.description,
        commit=commit,
        keys=config.keys,
        experts=experts,
        docs=docs,
        install_url=install_url or url,
    )
    stats = write_site(site, outdir)
    shown = sum(1 for d in docs.values() if d.readme is not None)
    return SiteBuild(stats, config.name, commit, tuple(skipped), shown)


def _locate(source: str, store: Store | None) -> tuple[Path, str, str | None]:
    """(repository, commit, public URL if known) of ``source``."""
    path = Path(source).expanduser()
    # A Git repository (work tree or bare) wins; then a configured name (a folder in the
    # working directory may share it); then any folder, for the Git layer's own error.
    if path.is_dir() and ((path / ".git").exists() or (path / "HEAD").is_file()):
        return path.resolve(), git.head_commit(path.resolve()), None
    store = store or Store.from_env()
    record = store.db.find_index(source)
    if record is None and path.is_dir():
        return path.resolve(), git.head_commit(path.resolve()), None
    if record is None:
        known = ", ".join(i.name for i in store.db.indexes()) or "none"
        raise NotFoundError(
            f"{source!r} is neither an index checkout nor a configured index (configured: {known})",
            hint="Give the path of an index checkout, or the NAME of `hxpm index list`.",
        )
    if is_sparse_url(record.url):
        raise UsageError(
            f"index {source!r} is a sparse index: its site is built from the Git checkout "
            "it was exported from",
            hint="Run `hxpm index site CHECKOUT -o DIR --index-url sparse+https://…`.",
        )
    if not record.accepted_commit:
        raise NotFoundError(
            f"index {source!r} has not been fetched yet", hint="Run `hxpm index update`."
        )
    from hxpm.core.redact import strip_url_credentials

    cache = store.paths.indexes / record.name
    return cache, record.accepted_commit, strip_url_credentials(record.url)


def read_experts(
    repo: Path, commit: str, *, where: str
) -> tuple[dict[str, tuple[VersionLine, ...]], list[tuple[str, str]]]:
    """Every expert file under ``experts/`` at ``commit``, parsed; the bad ones apart."""
    experts: dict[str, tuple[VersionLine, ...]] = {}
    skipped: list[tuple[str, str]] = []
    for path, data in git.iter_files(repo, commit, EXPERTS_DIR, max_bytes=MAX_EXPERT_FILE_BYTES):
        name = path.rsplit("/", 1)[-1]
        if name.startswith("."):
            continue  # .keep and similar placeholders
        try:
            if shard_path(name) != path:
                raise UsageError(f"{path} is not where {name!r} belongs ({shard_path(name)})")
            lines = parse_expert_file(data, name=name, where=f"{where}: {path}")
        except HxpmError as exc:
            skipped.append((path, exc.message))
            continue
        if lines:
            experts[name] = tuple(lines)
    return experts, skipped


def expert_docs(paths: StorePaths, line: VersionLine, *, offline: bool) -> ExpertDocs:
    """README and quality metrics of ``line``'s repository at its pinned commit."""
    quality = quality_pairs(line.raw.get("quality_metrics"))
    try:
        url = normalise_git_url(line.source.git)
        cache = paths.repos / url.cache_key
        if not git.has_commit(cache, line.source.commit):
            if offline:
                return ExpertDocs(
                    note="README not shown: built offline and not in the cache.", quality=quality
                )
            with store_lock(cache.with_name(cache.name + ".lock")):
                git.fetch(url, cache, commit=line.source.commit, depth=1)
        quality = quality or _manifest_quality(cache, line.source.commit)
        return _readme(
            lambda rel, cap: git.read_file(cache, line.source.commit, rel, max_bytes=cap), quality
        )
    except HxpmError as exc:
        return ExpertDocs(note=f"README not shown: {exc.message}", quality=quality)


def _readme(read: Callable[[str, int], bytes], quality: tuple[tuple[str, str], ...]) -> ExpertDocs:
    for rel in README_NAMES:
        try:
            data = read(rel, MAX_README_BYTES)
        except NotFoundError:
            continue
        return ExpertDocs(readme=data.decode("utf-8", errors="replace"), quality=quality)
    return ExpertDocs(note="The repository has no README at this version.", quality=quality)


def _manifest_quality(cache: Path, commit: str) -> tuple[tuple[str, str], ...]:
    try:
        data = git.read_file(cache, commit, "manifest.json", max_bytes=MAX_MANIFEST_BYTES)
        doc = read_json(data, max_bytes=MAX_MANIFEST_BYTES)
    except (HxpmError, JsonError):
        return ()
    return quality_pairs(doc.get("quality_metrics")) if isinstance(doc, dict) else ()
