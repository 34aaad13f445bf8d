"""What a long-running session can serve: the base, the installed experts, and model names.

A *model name* (the OpenAI ``model`` field, or ``hxpm.api``'s ``model=``) is one of:

* the base's registered name: the bare base;
* ``auto``: the router picks the experts for the conversation's last user message;
* an expert name (``expert-sql``, or ``sql`` when no expert is called that; ``NAME@RANGE``
  pins versions): that expert plus its requires closure, stacked as `hxpm run` stacks them;
* several of those joined with ``+``: their union, resolved together.

No torch here: listing and choosing are store and resolver work only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hxpm.errors import HxpmError, InvalidRequirementError, NotFoundError, UsageError
from hxpm.services.expertset import installed_set, registered_base
from hxpm.services.query import newest_first
from hxpm.services.routing import route_prompt
from hxpm.services.run import Selection
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

AUTO = "auto"
MAX_MODEL_NAME = 1000  # characters; longer names are refused before any lookup
MODEL_HINT = (
    "A model is the base's name, 'auto', or installed experts (NAME or NAME@RANGE, "
    "e.g. expert-sql@^1.0) joined with '+'."
)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One servable model: the base (``parent`` None) or an installed expert's newest version."""

    id: str
    version: str | None
    parent: str | None
    root: str
    requires: tuple[str, ...] | None  # the stack as NAME@VERSION in load order; None: broken
    problem: str | None = None  # why the stack cannot be resolved, when it cannot

    def to_dict(self, created: int) -> dict[str, Any]:
        """The vLLM shape for a model card (plus an ``hxpm`` object of our own)."""
        return {
            "id": self.id,
            "object": "model",
            "created": created,
            "owned_by": "hxpm",
            "root": self.root,
            "parent": self.parent,
            "hxpm": {
                "version": self.version,
                "stack": list(self.requires or ()),
                "problem": self.problem,
            },
        }


def experts_label(selection: Selection) -> tuple[str, ...]:
    """``name@version`` of each expert in a selection, in load order."""
    return tuple(f"{e.name}@{e.version}" for e in selection.experts)


MAX_CACHED_SETS = 256  # distinct model names a long-lived process keeps resolved


class Catalog:
    """Store-side view for one base. Use it from one thread (the store's SQLite connection)."""

    def __init__(self, store: Store, base: str | None = None) -> None:
        self.store = store
        self.base: BaseModel = registered_base(store, base)
        # models() resolves every expert's stack; kept until the installed rows change, so
        # an install or removal by another process shows at the next call, no restart.
        self._models: tuple[tuple[tuple[Any, ...], ...], list[ModelEntry]] | None = None
        # Named sets as resolved, for the same installed rows: a server resolves the same
        # few names on every request, and resolving reads and checks every manifest.
        self._sets_state: tuple[tuple[Any, ...], ...] | None = None
        self._sets: dict[tuple[str, ...], tuple[InstalledExpert, ...]] = {}

    def newest_experts(self) -> list[InstalledExpert]:
        newest: dict[str, InstalledExpert] = {}
        for e in newest_first(
            [e for e in self.store.db.installed() if e.base_model == self.base.name]
        ):
            newest.setdefault(e.name, e)
        return sorted(newest.values(), key=lambda e: e.name)

    def models(self) -> list[ModelEntry]:
        """The base first, then every installed expert with its resolved stack (as installed
        now: one cheap query tells whether the last answer still holds)."""
        state = self.store.db.installed_state()
        if self._models is None or self._models[0] != state:
            self._models = (state, self._resolve_models())
        return list(self._models[1])

    def _resolve_models(self) -> list[ModelEntry]:
        entries = [ModelEntry(self.base.name, None, None, str(self.base.path), ())]
        for e in self.newest_experts():
            try:
                stack = installed_set(self.store, [f"{e.name}@=={e.version}"], base=self.base.name)
                requires: tuple[str, ...] | None = tuple(
                    f"{x.name}@{x.version}" for x in stack.experts
                )
                problem = None
            except HxpmError as err:
                requires, problem = None, err.message
            entries.append(
                ModelEntry(e.name, e.version, self.base.name, str(e.path), requires, problem)
            )
        return entries

    def choose(self, model: str, prompt: str) -> Selection:
        """The experts for ``model`` (see the module docstring); ``prompt`` is what ``auto``
        routes on.

        Raises:
            UsageError: an empty or malformed name.
            NotFoundError: no such expert (the message lists the installed names).
            ResolutionError: the named experts cannot be stacked together.
        """
        name = model.strip()
        if not name or len(name) > MAX_MODEL_NAME:
            raise UsageError(
                "model must name the base, 'auto', or installed experts joined with '+'"
            )
        if name == self.base.name:
            return Selection(self.base, (), None, "the bare base was asked for")
        if name == AUTO:
            routed = route_prompt(self.store, prompt, base=self.base.name)
            experts = routed.expert_set.experts if routed.expert_set else ()
            return Selection(self.base, experts, routed.decision, routed.decision.reason)
        parts = [p.strip() for p in name.split("+")]
        if any(not p for p in parts):
            raise UsageError(f"model {name!r} has an empty part between '+' signs")
        for part in parts:  # checked here so that errors name `model`, not a CLI option
            _check_part(part)
        why = f"asked for: {' + '.join(parts)}"
        return Selection(self.base, self._named_set(tuple(parts)), None, why)

    def _named_set(self, parts: tuple[str, ...]) -> tuple[InstalledExpert, ...]:
        """The installed experts ``parts`` resolve to, cached until the installed rows
        change (one cheap query per call tells)."""
        state = self.store.db.installed_state()
        if state != self._sets_state:
            self._sets_state, self._sets = state, {}
        found = self._sets.get(parts)
        if found is not None:
            return found
        try:
            chosen = installed_set(self.store, list(parts), base=self.base.name)
        except NotFoundError as e:
            raise NotFoundError(
                e.message, hint=self._known_hint(), details={"available": self.available()}
            ) from None
        if len(self._sets) >= MAX_CACHED_SETS:
            self._sets.clear()
        self._sets[parts] = chosen.experts
        return chosen.experts

    def available(self) -> list[str]:
        return [self.base.name, AUTO, *(e.name for e in self.newest_experts())]

    def _known_hint(self) -> str:
        return "Installed models: " + ", ".join(self.available()) + "."


def _check_part(part: str) -> None:
    from hxpm.core.versions import parse_requirement

    try:
        parse_requirement(part, field="model")
    except InvalidRequirementError as e:
        raise InvalidRequirementError(e.message, hint=MODEL_HINT) from None
