"""Releases read straight from an expert's Git repo (`hxpm install github.com/u/expert-x`).

Versions are tags ``v<semver>``. The release's ``manifest.json`` and its signed packages in
``dist/`` are read at the tag's commit and turned into the same version line an index would
carry, so the rest of the install path is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hxpm.core.manifest import Manifest
from hxpm.core.names import package_filename
from hxpm.core.versions import ANY, Version, VersionSpec, parse_spec
from hxpm.errors import IndexDataError, InvalidRequirementError, NotFoundError
from hxpm.index import git
from hxpm.index.manifest_line import line_from_manifest
from hxpm.index.model import SourceRef, VariantEntry
from hxpm.index.urls import GitSource, GitURL
from hxpm.package.signing import parse_signature_file
from hxpm.resolve.model import Candidate
from hxpm.services.candidates import candidate_from_line
from hxpm.store.lock import store_lock
from hxpm.store.paths import StorePaths
from hxpm.transport import is_offline, require_online

MAX_MANIFEST_BYTES = 1 << 20
MAX_SIG_BYTES = 16 * 1024
# A Git release states no size; this caps what is read before the digest check.
MAX_PACKAGE_BYTES = 8 << 30


@dataclass(frozen=True, slots=True)
class GitRelease:
    url: GitURL
    tag: str
    commit: str


def release_for(paths: StorePaths, src: GitSource) -> GitRelease:
    """Pick the release: ``#ref`` if given, else the newest ``v*`` tag in ``@SPEC``."""
    cache = paths.repos / src.url.cache_key
    if src.ref is not None:
        if is_offline():
            return GitRelease(src.url, src.ref, git.resolve_ref(cache, src.ref))
        with store_lock(cache.with_name(cache.name + ".lock")):
            return GitRelease(src.url, src.ref, git.fetch(src.url, cache, ref=src.ref, depth=1))
    if is_offline():
        raise NotFoundError(
            f"offline: cannot list the tags of {src.url.display}",
            hint="Name the release with #TAG to use the cached copy.",
        )
    require_online(f"listing the tags of {src.url.display}")
    tag = _newest_tag(git.ls_remote(src.url), parse_spec(src.spec) if src.spec else ANY, src.url)
    with store_lock(cache.with_name(cache.name + ".lock")):
        return GitRelease(src.url, tag, git.fetch(src.url, cache, ref=tag, depth=1))


def _newest_tag(refs: dict[str, str], spec: VersionSpec, url: GitURL) -> str:
    versions: list[tuple[Version, str]] = []
    for ref in refs:
        if not ref.startswith("refs/tags/v") or ref.endswith("^{}"):
            continue
        tag = ref.removeprefix("refs/tags/")
        try:
            versions.append((Version.parse(tag[1:]), tag))
        except InvalidRequirementError:
            continue  # not a release tag
    allowed = sorted((v for v in versions if spec.allows(v[0])), reverse=True)
    if not allowed:
        have = ", ".join(t for _, t in sorted(versions, reverse=True)[:10]) or "none"
        raise NotFoundError(
            f"{url.display} has no release tag v<semver> matching {spec} (tags: {have})"
        )
    return allowed[0][1]


def candidate_for_release(paths: StorePaths, release: GitRelease) -> Candidate:
    cache = paths.repos / release.url.cache_key
    data = git.read_file(cache, release.commit, "manifest.json", max_bytes=MAX_MANIFEST_BYTES)
    manifest = Manifest.from_bytes(data, source=f"{release.url.display}@{release.tag}")
    if release.tag.startswith("v") and release.tag[1:] != str(manifest.version):
        raise IndexDataError(
            f"{release.url.display}: tag {release.tag} holds a manifest for "
            f"version {manifest.version}"
        )
    variants = [_variant(cache, release, manifest, v.name, v.sha256) for v in manifest.variants]
    line = line_from_manifest(
        manifest,
        SourceRef(release.url.url, release.tag, release.commit),
        [v for v in variants if v is not None],
    )
    return candidate_from_line(None, line, origin=release.url.display)


def _variant(
    cache: Path,
    release: GitRelease,
    manifest: Manifest,
    base: str,
    base_sha: str,
) -> VariantEntry | None:
    rel = f"dist/{package_filename(manifest.name, base, str(manifest.version))}"
    try:
        sig_text = git.read_file(
            cache, release.commit, rel + ".sig", max_bytes=MAX_SIG_BYTES
        ).decode("ascii", errors="replace")
    except NotFoundError:
        return None  # no signed package for this base in the release
    st = parse_signature_file(sig_text).statement
    # Size is not in the statement; the digest is what binds the bytes.
    return VariantEntry(
        base, base_sha, rel, None, MAX_PACKAGE_BYTES, st.sha256, st.tree_sha256, sig_text
    )
