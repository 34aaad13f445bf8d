"""What a site is built from: an index's config and lines, plus what each expert's repo says.

Pure values. The service gathers them (index checkout or cache, expert repos at the pinned
commit); the generator never does I/O beyond writing the output folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hxpm.index.config import IndexKey
from hxpm.index.model import VersionLine

# The scalar fields of the older tool's quality_metrics object, in the order a page shows
# them; others found in a manifest follow in key order.
QUALITY_ORDER = (
    "base_model_score",
    "benchmark_score",
    "improvement_percent",
    "win_rate_vs_base",
    "test_queries",
    "checkpoint",
    "training_steps",
    "test_date",
)
MAX_QUALITY_FIELDS = 24
MAX_QUALITY_TEXT = 500


@dataclass(frozen=True, slots=True)
class ExpertDocs:
    """What an expert's repository holds at its newest version's commit.

    ``readme`` is None when it could not be read; ``note`` then says why (offline and not
    cached, no README, too large...). ``quality`` is the manifest's ``quality_metrics`` as
    (field, shown value) pairs.
    """

    readme: str | None = None
    note: str = ""
    quality: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SiteIndex:
    """One index, ready to be written as a site."""

    name: str
    description: str
    commit: str
    keys: tuple[IndexKey, ...]
    experts: Mapping[str, tuple[VersionLine, ...]]  # name -> its lines, oldest first
    docs: Mapping[str, ExpertDocs] = field(default_factory=dict)
    install_url: str | None = None  # what users give `hxpm index add`


def quality_pairs(metrics: object) -> tuple[tuple[str, str], ...]:
    """The shown (field, value) pairs of a manifest's ``quality_metrics`` object; anything
    that is not a flat object of scalars is dropped field by field (hostile input is data)."""
    if not isinstance(metrics, Mapping):
        return ()
    known = [k for k in QUALITY_ORDER if k in metrics]
    rest = sorted(k for k in metrics if isinstance(k, str) and k not in QUALITY_ORDER)
    pairs: list[tuple[str, str]] = []
    for key in [*known, *rest][:MAX_QUALITY_FIELDS]:
        shown = _scalar_text(metrics[key])
        if shown is not None:
            pairs.append((key[:80], shown))
    return tuple(pairs)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value).lower()
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value[:MAX_QUALITY_TEXT]
    return None


def newest_line(lines: Sequence[VersionLine]) -> VersionLine:
    """The version a page leads with: the newest stable, not yanked; else the newest
    not yanked; else the newest."""
    stable = [ln for ln in lines if not ln.yanked and not ln.version.is_prerelease]
    chosen = stable or [ln for ln in lines if not ln.yanked] or list(lines)
    if not chosen:
        raise ValueError("an expert with no lines")
    return max(chosen, key=lambda ln: ln.version)


def published(line: VersionLine) -> str:
    """When a version was signed (the earliest signature's ``created``): the date the index
    states, inside signed data, so a rebuild gives the same bytes."""
    return min(v.statement.created for v in line.variants)
