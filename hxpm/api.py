"""hxpm's Python API: a base model kept loaded, experts attached by name or by the router.

::

    from hxpm.api import Session

    with Session.open() as s:                      # the default registered base
        s.attach_experts(["expert-sql"])           # plus what it requires, stacked
        for piece in s.stream("count the users"):  # text as it is generated
            print(piece, end="")
        answer = s.generate("count the users", max_tokens=32, seed=1)
        print(answer.text, answer.experts)         # ('expert-sql@0.1.0',)
        s.attach_auto()                            # the router picks per prompt
    # leaving the block releases the model (or call s.release())

``generate``/``stream`` take a prompt string or a conversation (a list of ``Message`` or of
``{"role", "content"}`` dicts), and ``model=`` to pick experts for one call (a model name as
``hxpm.services.catalog`` defines it: the base, ``auto``, ``a+b``). `hxpm serve` runs on this
module. Importing it is cheap; the runtime (torch) is loaded by ``Session.open``.
A session is not thread-safe: use it from one thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from hxpm.errors import UsageError
from hxpm.services.catalog import AUTO, Catalog, experts_label
from hxpm.services.run import (
    DecodingOverrides,
    Selection,
    adapter_refs,
    decoding_for,
    generation_config,
    open_session,
)
from hxpm.store.store import Store

if TYPE_CHECKING:
    from collections.abc import Hashable

    from hxpm.runtime.batch import BatchDecoder, Slot
    from hxpm.runtime.chat import Message
    from hxpm.runtime.multilora import RowAdapters
    from hxpm.runtime.refs import GenerationConfig

__all__ = ["Completion", "Prepared", "Session", "Settings", "Stream"]

Conversation = str | Sequence[Any]  # a prompt, or Message / {"role", "content"} items
# The batch group of every set that can share a forward pass with any other (plain LoRA sets
# and the bare base, see hxpm/runtime/multilora.py); another set is a group of its own.
MIXED: tuple[str, ...] = ("*mixed*",)
MAX_PREFIXES = 64  # soft prefixes kept read, one per expert set (≤ 512 × hidden floats each)
FINISH_REASONS = {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "cancelled"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Decoding settings of one request; None means "the main expert's, else the default"."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False  # generate max_tokens even past the end token (benchmarks)
    grammar: Any = None  # a hxpm.runtime.grammar.GrammarSpec: replaces the expert's grammar


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (end token or stop string), "length", "cancelled"
    prompt_tokens: int
    completion_tokens: int
    experts: tuple[str, ...]  # NAME@VERSION in load order; () for the bare base
    why: str  # why these experts (the router's reason when routed)


@dataclass(frozen=True)
class Prepared:
    """A request ready to decode: the selection, its token ids and decoding config."""

    selection: Selection
    prompt_ids: tuple[int, ...]
    config: GenerationConfig
    soft_prefix: Any = None  # the set's soft prompts, a [tokens, hidden] tensor; None: none


class Session:
    """One loaded base model and the experts attached to it (see the module docstring)."""

    def __init__(self, catalog: Catalog, runtime: Any) -> None:
        self.catalog = catalog
        self._runtime = runtime  # hxpm.runtime.session.Session
        self._fixed: Selection | None = None  # None: route each prompt
        self._active_key: tuple[str, ...] | None = None
        self._mixer: RowAdapters | None = None
        self._prefixes: OrderedDict[tuple[str, ...], Any] = OrderedDict()  # set -> soft prefix
        self.switches = 0

    @classmethod
    def open(
        cls,
        base: str | None = None,
        *,
        device: str = "auto",
        max_loaded: int = 8,
        store: Store | None = None,
        quantize: str | None = None,
        adapt: bool = False,
    ) -> Session:
        """Load ``base`` (default: the store's default base). Takes seconds: torch loads.

        ``quantize``: int8/int4/fp16/bf16/none, as ``--quantize`` (docs/runtime.md).
        ``adapt``: a set whose experts need another RoPE scaling or quantization reloads the
        base rather than being refused (a decoder made earlier keeps the old model)."""
        catalog = Catalog(store or Store.from_env(), base)
        runtime = open_session(
            catalog.base, device=device, max_loaded=max_loaded, quantize=quantize, adapt=adapt
        )
        return cls(catalog, runtime)

    @property
    def base(self) -> str:
        return self.catalog.base.name

    @property
    def device(self) -> str:
        return str(self._runtime.device)

    @property
    def context_length(self) -> int:
        """Tokens the base attends over (prompt + answer); 0 when its config does not say."""
        config = self._runtime.model.config
        return int(getattr(config, "max_position_embeddings", 0) or 0)

    # --- choosing experts ------------------------------------------------------------------

    def attach_experts(self, names: Sequence[str], *, why: str | None = None) -> Selection:
        """Use ``names`` and their requires for every later call; [] for the bare base.

        ``why`` replaces the default reason answers report (e.g. "named on the command line").
        """
        from dataclasses import replace

        selection = (
            self.catalog.choose("+".join(names), "")
            if names
            else self.catalog.choose(self.base, "")
        )
        if why is not None:
            selection = replace(selection, why=why)
        self.activate(selection)
        self._fixed = selection
        return selection

    def attach_auto(self) -> None:
        """Let the router pick the experts for each prompt (the default)."""
        self._fixed = None

    def choose(self, model: str | None, conversation: Conversation) -> Selection:
        """The experts for ``model`` (None: what attach_* set) and this conversation."""
        if model is None and self._fixed is not None:
            return self._fixed
        return self.catalog.choose(model or AUTO, last_user_text(to_messages(conversation)))

    def activate(self, selection: Selection) -> float | None:
        """Make ``selection`` the active set; the seconds spent, or None when it already was."""
        return self._activate(_set_key(selection), selection.experts)

    # --- batching several sets -------------------------------------------------------------

    def row_adapters(self, selection: Selection) -> Hashable | None:
        """The key a batch row runs ``selection`` under, or None: the bare base, or a set
        that cannot share a forward pass with others (DoRA, IA³, unreadable: it runs alone)."""
        if not selection.experts:
            return None
        refs = adapter_refs(selection.experts)
        key = tuple(ref.key for ref in refs)
        return key if self._row_mixer().prepare(key, refs) is None else None

    def batch_group(self, selection: Selection) -> tuple[str, ...]:
        """Requests of one group may decode in the same forward pass: ``MIXED`` for the bare
        base and every plain-LoRA set, else the set's own label."""
        if not selection.experts or self.row_adapters(selection) is not None:
            return MIXED
        return experts_label(selection)

    def activate_group(self, selection: Selection) -> float | None:
        """Make the model ready for ``selection``'s batch group (see ``batch_group``): the
        bare base for ``MIXED`` (rows add their own sets), else the set merged as usual."""
        group = self.batch_group(selection)
        if group == MIXED:
            return self._activate(MIXED, ())
        return self._activate(_set_key(selection), selection.experts)

    def _activate(self, key: tuple[str, ...], experts: Sequence[Any]) -> float | None:
        if key == self._active_key:
            return None
        seconds = float(self._runtime.use(adapter_refs(experts)))
        if self._active_key is not None:
            self.switches += 1
        self._active_key = key
        return seconds

    # --- generating ------------------------------------------------------------------------

    def prepare(
        self,
        conversation: Conversation,
        selection: Selection,
        settings: Settings = Settings(),
        *,
        raw: bool = False,
    ) -> Prepared:
        """Render and tokenize; check the settings and that prompt + answer fit the context.

        ``raw``: ``conversation`` is a plain string continued as it is (no chat template),
        as OpenAI's legacy completions endpoint does.

        The selection's soft prompts (if any) are read and checked here; they count as
        prompt tokens for the context.

        Raises:
            UsageError: bad settings or messages, or too long for the context; its
                ``details["param"]`` names the request field at fault ("messages", or
                "prompt" when ``raw``), as `hxpm serve` reports it.
            InferenceError, BaseMismatchError: an unreadable soft prompt, or one built for
                another base.
        """
        config = _config(selection, settings)
        config.check()
        prefix = self.soft_prefix(selection)
        try:
            ids = self._prompt_ids(conversation, selection, raw=raw)
            self._runtime.check_context(len(ids) + _tokens(prefix), config.max_new_tokens)
        except UsageError as e:
            e.details.setdefault("param", "prompt" if raw else "messages")
            raise
        return Prepared(selection, ids, config, prefix)

    def soft_prefix(self, selection: Selection) -> Any:
        """The soft prompts of ``selection``'s experts in load order, as one ``[tokens,
        hidden]`` tensor (None: none), read once per set (docs/runtime.md, soft prompts)."""
        key = _set_key(selection)
        if key not in self._prefixes:
            from hxpm.runtime import softprompt

            refs = sorted(adapter_refs(selection.experts), key=lambda r: r.load_order)
            self._prefixes[key] = softprompt.prefix_of(
                [(f"expert {r.name}", r.soft_prompts) for r in refs],
                hidden=softprompt.hidden_size(self._runtime.model),
            )
            while len(self._prefixes) > MAX_PREFIXES:
                self._prefixes.popitem(last=False)
        self._prefixes.move_to_end(key)
        return self._prefixes[key]

    def _prompt_ids(
        self, conversation: Conversation, selection: Selection, *, raw: bool = False
    ) -> tuple[int, ...]:
        from hxpm.runtime.chat import render_messages

        if raw:
            if not isinstance(conversation, str) or not conversation:
                raise UsageError("prompt must be a non-empty string")
            text, special = conversation, True
        else:
            rendered = render_messages(
                self._runtime.tokenizer,
                to_messages(conversation),
                templates=[r.prompt_template for r in adapter_refs(selection.experts)],
            )
            text, special = rendered.text, rendered.add_special_tokens
        # verbose=False: a text longer than the context is normal here (``fit`` measures it to
        # drop turns, ``prepare`` refuses it with a UsageError); the tokenizer's own warning
        # about it would only reach the user's terminal.
        ids = self._runtime.tokenizer(text, add_special_tokens=special, verbose=False)["input_ids"]
        return tuple(int(i) for i in ids)

    def fit(
        self, conversation: Conversation, selection: Selection, settings: Settings = Settings()
    ) -> tuple[list[Message], int]:
        """Drop the oldest turns until prompt + answer fit the context; return (kept, dropped).

        A leading system message and the last user message are always kept (when those alone
        do not fit, ``prepare`` raises the usual UsageError).
        """
        messages = to_messages(conversation)
        system = messages[:1] if messages and messages[0].role == "system" else []
        turns = messages[len(system) :]
        room = self.context_length - _config(selection, settings).max_new_tokens
        room -= _tokens(self.soft_prefix(selection))
        dropped = 0
        while (
            len(turns) > 1
            and self.context_length
            and len(self._prompt_ids(system + turns, selection)) > room
        ):
            # A user turn goes together with the answer that followed it.
            cut = 2 if len(turns) > 2 and turns[1].role == "assistant" else 1
            turns, dropped = turns[cut:], dropped + cut
        return system + turns, dropped

    def decoder(self, max_batch: int = 16, *, mixed: bool = False) -> BatchDecoder:
        """A batch decoder on this session's model (batch 1 where the cache cannot join);
        ``mixed``: rows run their own sets (``row_adapters``) in the same forward pass."""
        import torch

        from hxpm.runtime.batch import BatchDecoder, batchable

        model = self._runtime.model
        return BatchDecoder(
            model,
            self._runtime.tokenizer,
            torch.device(self.device),
            max_batch=max_batch if batchable(model) else 1,
            mixer=self._row_mixer() if mixed else None,
        )

    def _row_mixer(self) -> RowAdapters:
        if self._mixer is None:
            from hxpm.runtime.multilora import RowAdapters

            runtime = self._runtime
            self._mixer = RowAdapters(runtime.model, self.base, runtime.base_digest)
        return self._mixer

    def stream(
        self,
        conversation: Conversation,
        *,
        model: str | None = None,
        selection: Selection | None = None,
        **settings: Any,
    ) -> Stream:
        """Text pieces as they are generated; the Stream's ``completion`` is set at the end.

        ``selection`` (from ``choose``) skips choosing again; ``settings`` are ``Settings``
        fields (max_tokens, temperature, top_p, top_k, seed, stop).
        """
        selection = selection or self.choose(model, conversation)
        prepared = self.prepare(conversation, selection, Settings(**settings))
        self.activate(selection)
        decoder = self.decoder(max_batch=1)
        slot = decoder.add(prepared.prompt_ids, prepared.config, soft_prefix=prepared.soft_prefix)
        return Stream(decoder, slot, selection)

    def generate(
        self, conversation: Conversation, *, model: str | None = None, **settings: Any
    ) -> Completion:
        """The whole answer at once (same arguments as ``stream``)."""
        stream = self.stream(conversation, model=model, **settings)
        for _ in stream:
            pass
        assert stream.completion is not None
        return stream.completion

    def release(self) -> None:
        """Free the model (and GPU memory); the session cannot be used afterwards."""
        if self._mixer is not None:
            self._mixer.close()
            self._mixer = None
        self._runtime.close()
        self._active_key = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Stream:
    """Iterate for text pieces; ``completion`` is set once the iteration has ended.

    Leaving the loop early (``break``, an exception, ``close()``) stops the generation.
    """

    def __init__(self, decoder: BatchDecoder, slot: Slot, selection: Selection) -> None:
        self._decoder, self._slot, self._selection = decoder, slot, selection
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        slot = self._slot
        try:
            while True:
                piece = slot.take_text()
                if piece:
                    yield piece
                if slot.finished:
                    break
                self._decoder.step()
        finally:
            self._decoder.cancel(slot)
            self.completion = completion_of(slot, self._selection)
        if slot.error is not None:  # the grammar failed: no answer to give
            raise slot.error


def completion_of(slot: Slot, selection: Selection) -> Completion:
    return Completion(
        slot.text,
        FINISH_REASONS.get(slot.stopped_by or "", "stop"),
        slot.prompt_tokens,
        len(slot.new_ids),
        experts_label(selection),
        selection.why,
    )


def _tokens(prefix: Any) -> int:
    """The positions a soft prefix takes (0: none)."""
    return 0 if prefix is None else int(prefix.shape[0])


def _set_key(selection: Selection) -> tuple[str, ...]:
    """What makes a merged set the same one: its installed trees, not only name@version (an
    expert removed and installed again with other weights is another set)."""
    return tuple(str(e.path) for e in selection.experts)


def to_messages(conversation: Conversation) -> list[Message]:
    """A prompt or a list of messages as runtime Messages; UsageError names a bad item."""
    from hxpm.runtime.chat import Message

    if isinstance(conversation, str):
        return [Message("user", conversation)]
    out = []
    for i, item in enumerate(conversation):
        if isinstance(item, Message):
            out.append(item)
        elif (
            isinstance(item, Mapping)
            and isinstance(item.get("role"), str)
            and isinstance(item.get("content"), str)
        ):
            out.append(Message(item["role"], item["content"]))
        else:
            raise UsageError(f"messages[{i}] must have a string role and a string content")
    return out


def last_user_text(messages: Sequence[Message]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


def _config(selection: Selection, settings: Settings) -> GenerationConfig:
    from dataclasses import replace

    decoding = decoding_for(
        selection,
        DecodingOverrides(
            settings.max_tokens, settings.temperature, settings.top_p, settings.top_k, settings.seed
        ),
    )
    config = generation_config(decoding)
    # A request's stop strings add to the expert's own (its trained end-of-answer markers).
    stops = tuple(dict.fromkeys((*config.stop, *settings.stop)))
    return replace(config, stop=stops, grammar=settings.grammar or config.grammar)
