"""`hxpm run` and `hxpm chat`: pick the experts (named or routed), then generate.

Everything up to the generation is plain hxpm (store, resolver, router); the runtime
(torch, transformers, peft) is imported only when a model is actually loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hxpm.errors import RuntimeMissingError
from hxpm.routing.router import RouteDecision
from hxpm.services.expertset import ExpertSet, installed_set, registered_base
from hxpm.services.grammars import grammar_for
from hxpm.services.routing import route_prompt
from hxpm.services.runfields import load_options, variant_fields
from hxpm.store.records import BaseModel, InstalledExpert
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.runtime.session import GenerationConfig, GenerationResult, Session

DEFAULT_MAX_NEW_TOKENS = 128


@dataclass(frozen=True, slots=True)
class DecodingOverrides:
    """What the command line says; None means "the experts' setting, else the default"."""

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    grammar: Path | None = None  # --grammar FILE (GBNF): replaces the expert's grammar
    json_schema: Path | None = None  # --json-schema FILE


@dataclass(frozen=True)
class Selection:
    base: BaseModel
    experts: tuple[InstalledExpert, ...]  # load order
    decision: RouteDecision | None  # None when the experts were named
    why: str


@dataclass(frozen=True)
class RunRecord:
    prompt: str
    selection: Selection
    result: Any  # hxpm.runtime GenerationResult
    load_s: float
    decoding: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        r, s = self.result, self.selection
        return {
            "schema": "hxpm.run/1",
            "prompt": self.prompt,
            "base_model": s.base.name,
            "experts": [{"name": e.name, "version": e.version} for e in s.experts],
            "why": s.why,
            "route": s.decision.to_dict() if s.decision else None,
            "output": r.text,
            "stopped_by": r.stopped_by,
            "decoding": {
                k: (v.describe() if k == "grammar" and v is not None else v)
                for k, v in self.decoding.items()
            },
            "tokens": {"prompt": r.prompt_tokens, "generated": r.new_tokens},
            "timings": {
                "load_s": round(self.load_s, 4),
                "switch_s": round(r.switch_s, 4),
                "generate_s": round(r.generate_s, 4),
            },
            "tokens_per_s": round(r.tokens_per_s, 2),
        }


def select_experts(
    store: Store, prompt: str, *, experts: Sequence[str] | None, base: str | None
) -> Selection:
    """Named experts (plus requires), or the router's choice for ``prompt``."""
    if experts is not None:
        chosen = installed_set(store, experts, base=base) if experts else None
        base_model = chosen.base if chosen else registered_base(store, base)
        names = ", ".join(experts) or "none"
        return Selection(
            base_model,
            chosen.experts if chosen else (),
            None,
            f"named on the command line: {names}",
        )
    routed = route_prompt(store, prompt, base=base)
    es: ExpertSet | None = routed.expert_set
    base_model = es.base if es else registered_base(store, base)
    return Selection(base_model, es.experts if es else (), routed.decision, routed.decision.reason)


def decoding_for(selection: Selection, overrides: DecodingOverrides) -> dict[str, Any]:
    """Command line > the main expert's ``training.decoding`` > defaults."""
    settings: dict[str, Any] = {}
    if selection.experts:
        main = selection.experts[-1]  # the dependent: last in load order
        training = main.manifest.get("training") or {}
        decoding = training.get("decoding") if isinstance(training, dict) else None
        settings = dict(decoding) if isinstance(decoding, dict) else {}
    out = {
        "max_new_tokens": overrides.max_new_tokens
        or settings.get("max_new_tokens")
        or DEFAULT_MAX_NEW_TOKENS,
        "temperature": _first(overrides.temperature, settings.get("temperature"), 0.0),
        "top_p": _first(overrides.top_p, settings.get("top_p"), 1.0),
        "top_k": _first(overrides.top_k, settings.get("top_k"), 0),
        "seed": overrides.seed,
        "stop": [s for s in settings.get("stop_sequences") or [] if isinstance(s, str) and s],
        "grammar": grammar_for(selection, overrides),
    }
    return out


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def open_session(
    base: BaseModel,
    *,
    device: str = "auto",
    max_loaded: int = 8,
    quantize: str | None = None,
    options: Any = None,
    adapt: bool = False,
) -> Session:
    """Load ``base``. ``options`` (a runtime LoadOptions) wins over ``quantize`` (the
    ``--quantize`` value: experts asking for another quantization then run on it anyway).
    ``adapt``: reload the base when a set needs another RoPE scaling or quantization."""
    try:
        from hxpm.runtime.session import BaseRef, Session
    except ImportError as e:
        raise RuntimeMissingError(
            f"this command needs the hxpm runtime ({e.name} is not installed)"
        ) from None
    if options is None:
        options = load_options([], quantize)
    return Session(
        BaseRef(base.name, base.path, base.sha256),
        device=device,
        max_loaded=max_loaded,
        options=options,
        adapt=adapt,
    )


def serving_threads(requested: int | None) -> int:
    """Set torch's CPU threads for a server process (``hxpm serve --threads``; default: one
    fewer than the usable CPUs, leaving one to the event loop) and return the count."""
    from hxpm.runtime.cpu import set_serving_threads

    return set_serving_threads(requested)


def adapter_refs(experts: Sequence[InstalledExpert]) -> list[Any]:
    from hxpm.runtime.session import AdapterRef

    refs = []
    for e in experts:
        variants = e.manifest.get("base_models") or [e.manifest.get("base_model") or {}]
        template = next((v.get("prompt_template") for v in variants if isinstance(v, dict)), None)
        order = (e.manifest.get("constraints") or {}).get("load_order", 0)
        refs.append(
            AdapterRef(
                e.name,
                e.version,
                e.path,
                int(order),
                e.base_sha256,
                template,
                **variant_fields(e),
            )
        )
    return refs


def generation_config(decoding: dict[str, Any]) -> GenerationConfig:
    from hxpm.runtime.session import GenerationConfig

    return GenerationConfig(
        max_new_tokens=int(decoding["max_new_tokens"]),
        temperature=float(decoding["temperature"]),
        top_p=float(decoding["top_p"]),
        top_k=int(decoding["top_k"]),
        seed=decoding["seed"],
        stop=tuple(decoding["stop"]),
        grammar=decoding.get("grammar"),
    )


def run_prompt(
    session: Session,
    selection: Selection,
    prompt: str,
    overrides: DecodingOverrides,
    *,
    load_s: float = 0.0,
    on_text: Callable[[str], None] | None = None,
) -> RunRecord:
    session.use(adapter_refs(selection.experts))
    decoding = decoding_for(selection, overrides)
    result: GenerationResult = session.generate(
        prompt, generation_config(decoding), on_text=on_text
    )
    return RunRecord(prompt, selection, result, load_s, decoding)


def run_once(
    store: Store,
    prompt: str,
    *,
    experts: Sequence[str] | None,
    base: str | None,
    overrides: DecodingOverrides,
    device: str = "auto",
    on_text: Callable[[str], None] | None = None,
    quantize: str | None = None,
) -> RunRecord:
    selection = select_experts(store, prompt, experts=experts, base=base)
    t0 = time.perf_counter()
    # The base is loaded for these experts: their RoPE scaling and quantization (or --quantize).
    options = load_options(selection.experts, quantize)
    session = open_session(selection.base, device=device, options=options)
    try:
        return run_prompt(
            session, selection, prompt, overrides, load_s=time.perf_counter() - t0, on_text=on_text
        )
    finally:
        session.close()
