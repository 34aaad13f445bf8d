"""`hxpm route`: score installed experts for a prompt and name the set a run would use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hxpm.errors import DatasetError, NotFoundError
from hxpm.routing.profile import MAX_BYTES as PROFILE_MAX_BYTES
from hxpm.routing.profile import MEMBER as ROUTING_PROFILE
from hxpm.routing.profile import Profile, ProfileError, parse_profile
from hxpm.routing.router import RouteCandidate, RouteDecision, Router
from hxpm.services.expertset import ExpertSet, installed_set, registered_base
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.routing.evaluate import EvalReport, LabelledPrompt

MAX_EVAL_BYTES = 16 << 20
MAX_EVAL_PROMPTS = 100_000


@dataclass(frozen=True, slots=True)
class Routed:
    decision: RouteDecision
    expert_set: ExpertSet | None  # None: the bare base answers


def route_candidates(store: Store, base: str) -> list[RouteCandidate]:
    """The newest installed version of every expert that has a variant for ``base``."""
    return [_candidate(e) for e in _newest_installed(store, base).values()]


def _newest_installed(store: Store, base: str) -> dict[str, InstalledExpert]:
    by_name: dict[str, list[InstalledExpert]] = {}
    for e in store.db.installed():
        if e.base_model == base:
            by_name.setdefault(e.name, []).append(e)
    if all(len(group) == 1 for group in by_name.values()):
        return {name: group[0] for name, group in by_name.items()}
    from hxpm.services.query import newest_first  # SemVer ordering, only when needed

    return {name: newest_first(group)[0] for name, group in by_name.items()}


@dataclass(frozen=True, slots=True)
class _InstalledRouter:
    state: tuple[tuple[object, ...], ...]  # the store's installed rows it was built from
    router: Router
    newest: dict[str, InstalledExpert]


# (store root, base) -> the router over its installed experts. A long-lived process (`hxpm
# serve`, chat) reuses it until the installed rows change; each use re-reads them (one
# query, no manifest decoded), so an install or removal by any process is seen at once.
_ROUTERS: dict[tuple[str, str], _InstalledRouter] = {}
_MAX_ROUTERS = 4


def installed_router(store: Store, base: str) -> Router:
    """The router over the installed experts for ``base``, rebuilt only when they change."""
    return _installed_router(store, base).router


def _installed_router(store: Store, base: str) -> _InstalledRouter:
    key = (str(store.paths.root), base)
    state = store.db.installed_state()
    cached = _ROUTERS.get(key)
    if cached is not None and cached.state == state:
        return cached
    newest = _newest_installed(store, base)
    built = _InstalledRouter(state, Router(_candidate(e) for e in newest.values()), newest)
    if len(_ROUTERS) >= _MAX_ROUTERS and key not in _ROUTERS:
        _ROUTERS.clear()  # a process that routes over many stores: rare, keep it bounded
    _ROUTERS[key] = built
    return built


def _candidate(e: InstalledExpert) -> RouteCandidate:
    m = e.manifest
    routing = m.get("routing") or {}
    constraints = m.get("constraints") or {}
    return RouteCandidate(
        name=e.name,
        version=e.version,
        keywords=tuple(routing.get("keywords") or ()),
        exclude_keywords=tuple(routing.get("exclude_keywords") or ()),
        priority=float(routing.get("priority", 0.5)),
        capabilities=tuple(m.get("capabilities") or ()),
        description=str(m.get("description") or ""),
        requires=tuple(str(r) for r in constraints.get("requires") or ()),
        profile=_installed_profile(e),
    )


def _installed_profile(e: InstalledExpert) -> Profile | None:
    """The profile the package shipped (checked when installed), or None. A profile damaged
    since then is left out, so routing falls back to keywords; `hxpm verify --store` names
    the damaged file."""
    if not any(path == ROUTING_PROFILE for path, _, _ in e.members):
        return None
    try:
        with open(Path(e.path) / ROUTING_PROFILE, "rb") as fh:
            return parse_profile(fh.read(PROFILE_MAX_BYTES + 1), verified=True)
    except (OSError, ProfileError):
        return None


def route_prompt(store: Store, prompt: str, *, base: str | None = None) -> Routed:
    base_model = registered_base(store, base)
    installed = _installed_router(store, base_model.name)
    decision = installed.router.route(prompt)
    if decision.chosen is None:
        return Routed(decision, None)
    chosen = installed.newest[decision.chosen]
    if _stands_alone(chosen, base_model):
        return Routed(decision, ExpertSet(base_model, (chosen,), (chosen.name,)))
    return Routed(decision, installed_set(store, [decision.chosen], base=base_model.name))


def _stands_alone(e: InstalledExpert, base: BaseModel) -> bool:
    """Whether resolving ``e`` over the installed experts can only give ``e`` itself: it
    requires nothing, it is a stable version (the resolver weighs pre-releases), and the
    resolver would accept its base digest (the rule of hxpm.resolve.provider). The
    resolver's imports are then not needed: they cost `hxpm route` more than routing."""
    constraints = e.manifest.get("constraints") or {}
    if not isinstance(constraints, dict) or constraints.get("requires"):
        return False
    if "-" in e.version.partition("+")[0]:
        return False
    digest, wanted = e.base_sha256.lower(), (base.sha256 or "").lower()
    return not wanted or not digest or digest == wanted


def evaluate_routing(store: Store, path: Path, *, base: str | None = None) -> EvalReport:
    """Route every labelled prompt of ``path`` over the installed experts.

    Raises:
        NotFoundError: no such file.
        DatasetError: a line that is not ``prompt<TAB>expected`` (TSV) or a JSON object with
            string ``prompt`` and ``expected`` (JSONL), naming the line.
    """
    from hxpm.routing.evaluate import evaluate

    prompts = read_labelled_prompts(path)  # a bad file is reported before anything else
    base_model = registered_base(store, base)
    return evaluate(installed_router(store, base_model.name), prompts)


def read_labelled_prompts(path: Path) -> list[LabelledPrompt]:
    """TSV (``prompt<TAB>expected``; ``#`` comments) or, for ``.jsonl``/``.json``, JSON Lines
    with ``prompt`` and ``expected`` (``expert`` accepted too); ``none`` means the bare base."""
    from hxpm.routing.evaluate import NONE, LabelledPrompt

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_EVAL_BYTES + 1)
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such evaluation file") from None
    except OSError as exc:
        raise _bad(path, f"could not read: {exc}") from None
    if len(data) > MAX_EVAL_BYTES:
        raise _bad(path, f"larger than {MAX_EVAL_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(path, "not UTF-8 text") from None
    as_json = path.suffix.lower() in (".jsonl", ".json")
    out: list[LabelledPrompt] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or (not as_json and line.lstrip().startswith("#")):
            continue
        parse = _json_line if as_json else _tsv_line
        prompt, expected = parse(line, path, number)
        out.append(LabelledPrompt(prompt, expected.strip() or NONE, f"{path.name}:{number}"))
        if len(out) > MAX_EVAL_PROMPTS:
            raise _bad(path, f"more than {MAX_EVAL_PROMPTS} prompts")
    if not out:
        raise _bad(path, "no labelled prompts")
    return out


def _bad(path: Path, what: str, line: int | None = None) -> DatasetError:
    where = f"{path}:{line}" if line is not None else str(path)
    return DatasetError(
        f"{where}: {what}",
        file=str(path),
        line=line,
        expected=_EXPECTED,
        hint="One 'prompt<TAB>expert-or-none' a line (TSV), or JSON Lines "
        '{"prompt": "...", "expected": "expert-sql"} in a .jsonl file.',
    )


_EXPECTED = "prompt<TAB>expected expert or none"


def _tsv_line(line: str, path: Path, number: int) -> tuple[str, str]:
    prompt, tab, expected = line.rpartition("\t")
    if not tab or not prompt.strip() or not expected.strip():
        raise _bad(path, f"expected '{_EXPECTED}'", number)
    return prompt, expected


def _json_line(line: str, path: Path, number: int) -> tuple[str, str]:
    from hxpm.core.strictjson import JsonError, read_json
    from hxpm.routing.evaluate import NONE

    try:
        record = read_json(line, max_bytes=1 << 20)
    except JsonError as exc:
        raise _bad(path, f"not a JSON line ({exc})", number) from None
    if not isinstance(record, dict):
        raise _bad(path, f"expected a JSON object, got {type(record).__name__}", number)
    prompt = record.get("prompt")
    expected = record.get("expected", record.get("expert"))
    if not isinstance(prompt, str) or not isinstance(expected, str | None):
        raise _bad(path, "expected string fields 'prompt' and 'expected'", number)
    return prompt, expected or NONE
