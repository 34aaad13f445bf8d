"""resolvelib's resolver with one private hook memoised (docs/architecture.md §7, §12).

Every round, resolvelib asks for *every* known name whether its current pin still satisfies
its criterion (and again after each pin), so a closure of n names costs n² such checks, each
a generator over the criterion's requirements. Both inputs of that check are immutable: a
``Criterion`` is never mutated (resolvelib replaces it when it changes; its docs say so), and
a :class:`~hxpm.resolve.provider.Pick` never changes its bit. So the answer for one
(criterion, pin) pair is computed once and then looked up.

This overrides the private ``Resolution._is_current_pin_satisfying`` and builds the result
with the private ``_build_result`` (resolvelib 1.2.1, the newest tested);
``tests/unit/resolve/test_memo_resolver.py`` fails, naming the hook, if a release moves
them, and checks the answers against plain resolvelib.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from resolvelib import Resolver
from resolvelib.resolvers.resolution import Resolution, _build_result

if TYPE_CHECKING:
    from resolvelib.resolvers import Criterion, Result

    from hxpm.resolve.provider import Need, Pick


class _MemoResolution(Resolution["Need", "Pick", str]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(criterion) -> (criterion, pin, answer); the objects are kept so an id is never
        # reused while its entry lives.
        self._satisfying: dict[int, tuple[Criterion[Need, Pick], Pick, bool]] = {}

    def _is_current_pin_satisfying(self, name: str, criterion: Criterion[Need, Pick]) -> bool:
        pin = self.state.mapping.get(name)
        if pin is None:
            return False
        known = self._satisfying.get(id(criterion))
        if known is not None and known[0] is criterion and known[1] is pin:
            return known[2]
        answer = all(
            self._p.is_satisfied_by(requirement=r, candidate=pin)
            for r in criterion.iter_requirement()
        )
        self._satisfying[id(criterion)] = (criterion, pin, answer)
        return answer


class MemoResolver(Resolver["Need", "Pick", str]):
    """A :class:`resolvelib.Resolver` whose pin checks are memoised (same results)."""

    def resolve(  # type: ignore[override]
        self, requirements: Iterable[Need], max_rounds: int = 100
    ) -> Result[Need, Pick, str]:
        resolution = _MemoResolution(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        return _build_result(state)
