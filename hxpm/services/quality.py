"""Measured scores in a manifest's ``quality_metrics``, and the check that they are honest.

``hxpm eval DIR --write`` records what it measured as flat scalar fields, named as the older
tool's manifests name them where one exists (so index sites show them unchanged):

| field | value |
|---|---|
| ``metric`` | the metric (``evaluation.metric`` or ``--metric``) |
| ``base_model_score`` | the bare base's score |
| ``benchmark_score`` | the expert's score (base + requires + expert) |
| ``test_queries`` | the number of held-out items scored |
| ``test_date`` | the UTC date of the measurement (YYYY-MM-DD) |
| ``dataset`` | the held-out file, relative to the expert directory |
| ``dataset_sha256`` | the SHA-256 of that file's bytes |

``hxpm package`` refuses a manifest whose ``dataset_sha256`` does not match its ``dataset``
file: a score measured on other data than shipped is not a measurement of this package.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from hxpm.core.digest import digests_equal, is_sha256_hex, sha256_file
from hxpm.core.manifest_checks import MAX_MANIFEST_BYTES
from hxpm.core.strictjson import read_json_keeping_comments
from hxpm.errors import UsageError, VerificationError

FIELD = "quality_metrics"


def relative_dataset(expert_dir: Path, dataset: Path) -> str:
    """``dataset`` relative to ``expert_dir`` (POSIX separators).

    Raises:
        UsageError: the file is outside the directory (a package could not verify it).
    """
    root, path = expert_dir.resolve(), dataset.expanduser().resolve()
    if not path.is_relative_to(root):
        raise UsageError(
            f"--write: the held-out set {dataset} is outside {expert_dir}",
            hint="Put the held-out file in the expert directory (datasets/), so that "
            "`hxpm package` can check the recorded digest.",
        )
    return path.relative_to(root).as_posix()


def quality_record(
    metric: str, base: float, expert: float, n: int, dataset: str, digest: str
) -> dict[str, Any]:
    return {
        "metric": metric,
        "base_model_score": round(base, 6),
        "benchmark_score": round(expert, 6),
        "test_queries": n,
        "test_date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "dataset": dataset,
        "dataset_sha256": digest,
    }


def write_quality(manifest_path: Path, record: dict[str, Any]) -> None:
    """Replace ``quality_metrics`` in the manifest file, keeping every other field as it is."""
    # The manifest was validated before scoring; read it strictly all the same. Repeated
    # `_comment` keys (the older tool's manifests have them) are allowed, as validate allows.
    data, _comments = read_json_keeping_comments(
        manifest_path.read_bytes(), max_bytes=MAX_MANIFEST_BYTES
    )
    data[FIELD] = record
    tmp = manifest_path.with_name(f".{manifest_path.name}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, manifest_path)
    finally:
        tmp.unlink(missing_ok=True)


def check_quality_claims(expert_dir: Path, manifest: dict[str, Any]) -> None:
    """Refuse ``quality_metrics`` that name a dataset digest its file does not have.

    Manifests without ``dataset_sha256`` (the older tool's, hand-written ones) pass.

    Raises:
        VerificationError: the digest is malformed, the file is missing or outside the
            directory, or its bytes have another digest.
    """
    claims = manifest.get(FIELD)
    if not isinstance(claims, dict) or "dataset_sha256" not in claims:
        return
    digest, name = claims.get("dataset_sha256"), claims.get("dataset")
    where = f"{FIELD}.dataset_sha256"
    hint = "Measure again with `hxpm eval DIR --write`, or remove the stale quality_metrics."
    if not is_sha256_hex(digest) or not isinstance(name, str) or not name:
        raise VerificationError(
            f"manifest.json: {where} must be a SHA-256 hex digest with {FIELD}.dataset naming "
            "the held-out file",
            hint=hint,
        )
    root = expert_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise VerificationError(
            f"manifest.json: {FIELD}.dataset {name[:200]!r} is not a file in {expert_dir}",
            hint=hint,
        )
    actual = sha256_file(path)
    if not digests_equal(actual, str(digest).lower()):
        raise VerificationError(
            f"manifest.json: {where} is {str(digest)[:12]}…, but {name[:200]} has "
            f"{actual[:12]}…: the scores were measured on other data",
            hint=hint,
        )
