"""Publishing: append a released version of an expert repo to an index checkout, and yank.

An expert repo is a Git repo with ``manifest.json`` at its root and its packaged, signed
variants committed under ``dist/``; versions are tags ``v<semver>``. Publishing never pushes:
it makes a commit in the index checkout, ready to push or to send as a pull request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hxpm.core.manifest import Manifest
from hxpm.core.manifest_values import BaseVariant
from hxpm.core.names import package_filename
from hxpm.core.versions import Version, parse_requirement
from hxpm.errors import NotFoundError, StatementMismatchError, UsageError
from hxpm.index import git
from hxpm.index.config import IndexConfig, IndexKey
from hxpm.index.expert_file import parse_expert_file, render_expert_file
from hxpm.index.manifest_line import line_from_manifest
from hxpm.index.model import SourceRef, VariantEntry, VersionLine, shard_path
from hxpm.index.routing_summary import RoutingSummary
from hxpm.index.urls import normalise_git_url
from hxpm.package.reader import PackageContents, read_package
from hxpm.package.signing import parse_public_key, parse_signature_file
from hxpm.routing.profile import parse_profile, summary_terms

MAX_SIG_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class PublishResult:
    line: VersionLine
    index_file: Path
    index_commit: str


def publish(expert_dir: Path, index_dir: Path, *, url: str | None = None) -> PublishResult:
    """Check the release (tag, clean tree, committed signed packages), then append its line."""
    expert_dir, index_dir = expert_dir.expanduser().resolve(), index_dir.expanduser().resolve()
    manifest = Manifest.load(expert_dir / "manifest.json")
    head = git.head_commit(expert_dir)
    tag = f"v{manifest.version}"
    if tag not in git.tags_pointing_at(expert_dir, head):
        raise UsageError(
            f"{expert_dir.name}: HEAD ({head[:12]}) is not tagged {tag}, the manifest's version",
            hint=f"Tag the release: git tag {tag} && git push --tags",
        )
    if not git.is_worktree_clean(expert_dir):
        raise UsageError(
            f"{expert_dir.name}: the work tree has uncommitted changes",
            hint="Commit or stash them: what you publish must be what is tagged.",
        )
    public_url = normalise_git_url(url).url if url else _origin_url(expert_dir)
    built = [_variant_entry(expert_dir, head, manifest, v) for v in manifest.variants]
    variants = [entry for entry, _ in built]
    summary = _routing_summary([profile for _, profile in built])
    line = line_from_manifest(manifest, SourceRef(public_url, tag, head), variants, summary)
    path, commit = _append_line(index_dir, line)
    return PublishResult(line, path, commit)


def _origin_url(repo: Path) -> str:
    remote = git.remote_url(repo, "origin")
    if remote is None:
        raise UsageError(
            "cannot tell where users will fetch this repo from: it has no 'origin' remote",
            hint="Pass --url PUBLIC_GIT_URL.",
        )
    return normalise_git_url(remote).url


def _routing_summary(profiles: list[bytes | None]) -> RoutingSummary | None:
    """The index line's ``routing.profile``: the top terms of the first variant's profile
    (variants are built from the same training set). The reader already checked it."""
    data = next((p for p in profiles if p is not None), None)
    if data is None:
        return None
    profile = parse_profile(data)
    return RoutingSummary(profile.prompts, summary_terms(profile))


def _variant_entry(
    repo: Path, head: str, manifest: Manifest, variant: BaseVariant
) -> tuple[VariantEntry, bytes | None]:
    rel = f"dist/{package_filename(manifest.name, variant.name, str(manifest.version))}"
    pkg = repo / rel
    if not pkg.is_file():
        raise NotFoundError(
            f"{rel} is missing",
            hint="Build and sign it: hxpm package . && "
            f"hxpm sign {rel}, then commit dist/ and tag the release.",
        )
    _require_committed(repo, head, rel, pkg.read_bytes())
    sig_path = repo / f"{rel}.sig"
    if not sig_path.is_file() or sig_path.stat().st_size > MAX_SIG_BYTES:
        raise NotFoundError(f"{rel}.sig is missing", hint=f"Sign it: hxpm sign {rel}")
    sig_text = sig_path.read_text(encoding="ascii", errors="replace")
    _require_committed(repo, head, f"{rel}.sig", sig_path.read_bytes())
    contents = read_package(pkg)
    _require_match(rel, contents, manifest, variant)
    statement = parse_signature_file(sig_text).statement
    if statement.sha256 != contents.sha256 or statement.tree_sha256 != contents.tree_sha256:
        raise StatementMismatchError(
            f"{rel}.sig was made for another build of this package",
            hint=f"Re-sign it: hxpm sign {rel}",
        )
    entry = VariantEntry(
        variant.name,
        variant.sha256,
        rel,
        None,
        contents.size,
        contents.sha256,
        contents.tree_sha256,
        sig_text,
    )
    return entry, contents.routing_profile


def _require_committed(repo: Path, head: str, rel: str, data: bytes) -> None:
    try:
        committed = git.read_file(repo, head, rel, max_bytes=len(data) + 1)
    except NotFoundError:
        committed = None
    if committed != data:
        raise UsageError(
            f"{rel} is not committed as it is on disk at the tagged commit",
            hint="Commit dist/ before tagging: users fetch the committed bytes.",
        )


def _require_match(
    rel: str, contents: PackageContents, manifest: Manifest, variant: BaseVariant
) -> None:
    expected = manifest.reduced_to(variant.name).to_dict()
    if contents.manifest.to_dict() != expected:
        raise UsageError(
            f"{rel} was built from another manifest than the repo's",
            hint="Rebuild it with `hxpm package .` and sign it again.",
        )


def _append_line(index_dir: Path, line: VersionLine) -> tuple[Path, str]:
    if not (index_dir / "config.json").is_file():
        raise NotFoundError(
            f"{index_dir} is not an index checkout (no config.json)",
            hint="Create one with `hxpm index init DIR`, or clone yours.",
        )
    rel = shard_path(line.name)
    path = index_dir / rel
    lines = _read_lines(path, line.name, rel)
    if any(x.version == line.version for x in lines):
        raise UsageError(
            f"{line.name} {line.version} is already in the index; published versions are immutable",
            hint="Publish a new version instead.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_expert_file([*lines, line]))
    commit = git.commit_files(index_dir, [rel], f"Publish {line.name} {line.version}")
    return path, commit


def _read_lines(path: Path, name: str, rel: str) -> list[VersionLine]:
    if not path.is_file():
        return []
    return parse_expert_file(path.read_bytes(), name=name, where=rel)


@dataclass(frozen=True, slots=True)
class YankResult:
    line: VersionLine
    index_commit: str


def yank(index_dir: Path, spec: str, *, undo: bool = False) -> YankResult:
    """Flip ``yanked`` on one published version, in a new commit of the index checkout."""
    index_dir = index_dir.expanduser().resolve()
    req = parse_requirement(spec, field="NAME@VERSION")
    if len(req.spec.comparators) != 1 or req.spec.comparators[0].op != "==":
        raise UsageError(f"expected NAME@VERSION with one exact version, got {spec!r}")
    version: Version = req.spec.comparators[0].version
    rel = shard_path(req.name)
    lines = _read_lines(index_dir / rel, req.name, rel)
    if not any(x.version == version for x in lines):
        raise NotFoundError(f"{req.name} {version} is not in the index at {index_dir}")
    lines = [x.with_yanked(not undo) if x.version == version else x for x in lines]
    (index_dir / rel).write_bytes(render_expert_file(lines))
    verb = "Unyank" if undo else "Yank"
    commit = git.commit_files(index_dir, [rel], f"{verb} {req.name} {version}")
    line = next(x for x in lines if x.version == version)
    return YankResult(line, commit)


@dataclass(frozen=True, slots=True)
class IndexKeyResult:
    key_id: str
    owner: str
    experts: tuple[str, ...]
    index_commit: str


def vouch_for_key(
    index_dir: Path, public_key: str, *, owner: str, experts: list[str]
) -> IndexKeyResult:
    """List a publisher key in the index's config.json, for the expert names given.

    Users who add the index with ``--trust-keys`` then trust it for those names.
    """
    index_dir = index_dir.expanduser().resolve()
    path = index_dir / "config.json"
    if not path.is_file():
        raise NotFoundError(f"{index_dir} is not an index checkout (no config.json)")
    key = parse_public_key(public_key)
    config = IndexConfig.from_bytes(path.read_bytes(), source=str(path))
    entry = IndexKey(key.key_id, key.text, owner, tuple(experts or ["*"]))
    path.write_bytes(config.with_key(entry).to_bytes())
    commit = git.commit_files(index_dir, ["config.json"], f"Vouch for key {key.key_id} ({owner})")
    return IndexKeyResult(key.key_id, owner, entry.experts, commit)
