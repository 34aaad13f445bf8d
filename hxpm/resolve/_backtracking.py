"""The full resolvelib run, for what the first pass declines (docs/architecture.md §7).

Imported only then: a resolution that needs no backtracking never loads resolvelib, its
logging or the conflict explainer. Every failure becomes a :class:`ResolutionError` whose
``details["report"]`` explains it; raw resolvelib exceptions never escape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep

from hxpm.errors import ResolutionError
from hxpm.resolve._pinned import MemoResolver
from hxpm.resolve.conflict_report import ConflictReport, render_text
from hxpm.resolve.explain import build_conflict_report
from hxpm.resolve.first_pass import Solution
from hxpm.resolve.provider import ExpertProvider, Need, Pick

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    Causes = Collection[RequirementInformation[Need, Pick]]

log = logging.getLogger("hxpm.resolve")


class _Reporter(BaseReporter[Need, Pick, str]):
    """Remembers what a report needs: the latest conflict (for a give-up after too many
    rounds) and, per name, the expert whose requirement last brought it in."""

    def __init__(self) -> None:
        self.last_causes: Causes = ()
        self.pulled_in_by: dict[str, Pick | None] = {}

    def adding_requirement(self, requirement: Need, parent: Pick | None) -> None:
        if not requirement.negative:
            self.pulled_in_by[requirement.name] = parent

    def resolving_conflicts(self, causes: Causes) -> None:
        self.last_causes = list(causes)


class _DebugReporter(_Reporter):
    def resolving_conflicts(self, causes: Causes) -> None:
        super().resolving_conflicts(causes)
        log.debug("backtracking because of %s", causes)

    def rejecting_candidate(self, criterion: Any, candidate: Any) -> None:
        log.debug("rejecting %r: %r", candidate, criterion)

    def pinning(self, candidate: Any) -> None:
        log.debug("pinning %r", candidate)


def resolve_with_backtracking(
    provider: ExpertProvider, needs: Sequence[Need], max_rounds: int
) -> Solution:
    """resolvelib's answer, in the first pass's shape.

    Raises:
        ResolutionError: no set satisfies every requirement, or ``max_rounds`` ran out.
    """
    reporter = _DebugReporter() if os.environ.get("HXPM_RESOLVER_DEBUG") else _Reporter()
    try:
        result = MemoResolver(provider, reporter).resolve(needs, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        report = build_conflict_report(exc.causes, provider, pulled_in_by=reporter.pulled_in_by)
        raise _conflict_error(report) from None
    except ResolutionTooDeep as exc:
        report = build_conflict_report(
            reporter.last_causes,
            provider,
            pulled_in_by=reporter.pulled_in_by,
            too_deep_after=exc.round_count,
        )
        raise _conflict_error(report) from None
    information = {
        name: [(info.requirement, info.parent) for info in criterion.information]
        for name, criterion in result.criteria.items()
    }
    return Solution(dict(result.mapping), information)


def _conflict_error(report: ConflictReport) -> ResolutionError:
    # The hints are part of the message (as pip prints "To fix this you could try to"), so
    # ``hint`` stays empty; JSON readers find them in details["report"]["hints"].
    return ResolutionError(render_text(report), details={"report": report.to_dict()})
