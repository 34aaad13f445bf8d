"""Grammar-constrained decoding: GBNF grammars and JSON Schemas, compiled by llguidance.

llguidance sits behind this module only (docs/grammar.md says why it was chosen over
xgrammar). Importing this module does not import torch, transformers or llguidance:
``hxpm validate`` and ``hxpm package`` compile an expert's grammar with ``check_grammar``
on a machine without torch. Masking logits (``GrammarMatcher.mask``) needs torch, imported
there.

GBNF (llama.cpp's grammar format, what the older tool's experts ship as ``grammar.gbnf``)
is converted to llguidance's Lark dialect by llguidance's own converter; errors are
reported against the GBNF text, with the line of the rule at fault.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from hxpm.errors import GrammarError, InferenceError, RuntimeMissingError

GRAMMAR_KINDS = ("gbnf", "json_schema", "json_object")
MAX_GRAMMAR_BYTES = 256 * 1024  # the four real grammars are 2-4 KiB; a schema is smaller
_RULE_DEF = re.compile(r"^[ \t]*([A-Za-z0-9_-]+)[ \t]*::=", re.MULTILINE)
_GBNF_LINE = re.compile(r"\bat line (\d+)\b")
_LARK_POS = re.compile(r"^(?:at )?(\d+)\(\d+\): ")
_LARK_RULE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:")
_EXCERPT = re.compile(r"^\s*\d+ \|")
# JSON output laid out like json.dumps: free whitespace lets a model pad an answer forever.
_JSON_LAYOUT = {"item_separator": ", ", "key_separator": ": ", "whitespace_flexible": False}


@dataclass(frozen=True, slots=True)
class GrammarSpec:
    """What constrains an answer: ``kind`` is one of GRAMMAR_KINDS; ``text`` is the GBNF
    text or the JSON Schema as JSON ("" for json_object); ``source`` names where it came
    from (a file, an expert, ``response_format``) for messages."""

    kind: str
    text: str
    source: str

    @classmethod
    def gbnf(cls, text: str, source: str) -> GrammarSpec:
        return cls("gbnf", text, source)

    @classmethod
    def json_schema(cls, schema: str | dict[str, Any], source: str) -> GrammarSpec:
        text = schema if isinstance(schema, str) else json.dumps(schema)  # schema order kept
        return cls("json_schema", text, source)

    @classmethod
    def json_object(cls, source: str) -> GrammarSpec:
        return cls("json_object", "", source)

    def describe(self) -> dict[str, str]:
        """A small JSON-able summary (the text itself is not repeated in results)."""
        return {"kind": self.kind, "source": self.source}


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError:
        raise RuntimeMissingError(
            "grammars need llguidance, a dependency of hxpm that is missing here",
            hint="Reinstall hxpm: pip install --force-reinstall hxpm",
        ) from None
    return llguidance


def compile_grammar(spec: GrammarSpec) -> str:
    """The llguidance grammar for ``spec``, checked (no tokenizer needed).

    A server constrains every request of an expert with the same grammar: the conversion and
    the check run once per distinct spec (a few ms each), not once per request.

    Raises:
        GrammarError: the grammar or schema does not compile; ``details`` has the line.
        RuntimeMissingError: llguidance is not installed.
    """
    return _compiled(spec)


@functools.lru_cache(maxsize=64)  # failures are not cached: lru_cache keeps only results
def _compiled(spec: GrammarSpec) -> str:
    llg = _llguidance()
    if len(spec.text.encode("utf-8")) > MAX_GRAMMAR_BYTES:
        raise GrammarError(
            f"{spec.source}: the grammar is larger than {MAX_GRAMMAR_BYTES // 1024} KiB",
            file=spec.source,
            expected=f"a grammar of at most {MAX_GRAMMAR_BYTES // 1024} KiB",
        )
    if spec.kind == "gbnf":
        grammar, lark = _from_gbnf(llg, spec)
    elif spec.kind in ("json_schema", "json_object"):
        grammar, lark = _from_schema(llg, spec), ""
    else:
        raise GrammarError(
            f"{spec.source}: unknown grammar kind {spec.kind!r}",
            file=spec.source,
            expected=", ".join(GRAMMAR_KINDS),
        )
    is_error, messages = llg.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise _compile_error(spec, messages[0] if messages else "unknown error", lark)
    return str(grammar)


def check_grammar(spec: GrammarSpec) -> None:
    """Raise GrammarError unless ``spec`` compiles (what validate/package call)."""
    compile_grammar(spec)


def _from_gbnf(llg: Any, spec: GrammarSpec) -> tuple[str, str]:
    # gbnf_to_lark, not any_to_lark: the latter takes a GBNF rule named "start" for Lark.
    from llguidance.gbnf_to_lark import gbnf_to_lark

    try:
        lark = gbnf_to_lark(spec.text)
    except Exception as e:  # noqa: BLE001 - the converter raises bare Exception for its errors
        message = str(e)
        found = _GBNF_LINE.search(message)
        line = int(found.group(1)) if found else _line_of_missing_rule(spec.text, message)
        raise GrammarError(
            _located(spec.source, line, message.split(" at line ")[0]),
            file=spec.source,
            line=line,
            expected="a GBNF grammar (llama.cpp format) with a rule named root",
        ) from None
    return str(llg.LLMatcher.grammar_from_lark(lark)), lark


def _from_schema(llg: Any, spec: GrammarSpec) -> str:
    schema: str | dict[str, Any] = spec.text if spec.kind == "json_schema" else {"type": "object"}
    try:
        return str(llg.LLMatcher.grammar_from_json_schema(schema, defaults=_JSON_LAYOUT))
    except ValueError as e:
        raise GrammarError(
            f"{spec.source}: not a JSON Schema: {str(e).splitlines()[0]}",
            file=spec.source,
            expected="a JSON Schema (a JSON object)",
        ) from None


def _line_of_missing_rule(text: str, message: str) -> int | None:
    """The converter names a missing rule without a line: find where it is referenced."""
    missing = re.search(r"Rule '([^']+)' not found", message)
    if not missing:
        return None
    use = re.compile(rf"(?<![\w-]){re.escape(missing.group(1))}(?![\w-])")
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("::=", 1)[-1] if "::=" in line else line
        if not line.lstrip().startswith("#") and use.search(body):
            return number
    return None


def _compile_error(spec: GrammarSpec, message: str, lark: str) -> GrammarError:
    """The library's message, without its excerpt of the converted text, and the GBNF line
    of the rule at fault (llguidance reports positions in the Lark text it was given)."""
    lines = message.splitlines()
    kept = [p.strip() for p in lines if p.strip().strip("^") and not _EXCERPT.match(p)]
    head = " ".join(kept)
    position = _LARK_POS.match(head)
    line = _gbnf_line(spec.text, lark, int(position.group(1))) if position and lark else None
    text = _LARK_POS.sub("", head)
    expected = "a GBNF grammar (llama.cpp format)" if spec.kind == "gbnf" else "a JSON Schema"
    return GrammarError(
        _located(spec.source, line, text), file=spec.source, line=line, expected=expected
    )


def _gbnf_line(gbnf: str, lark: str, lark_line: int) -> int | None:
    """Map a line of the converted Lark text to the GBNF line defining the same rule."""
    rule = None
    for candidate in reversed(lark.splitlines()[:lark_line]):
        found = _LARK_RULE.match(candidate)
        if found:
            rule = found.group(1).lower()
            break
    if rule is None:
        return None
    for found in _RULE_DEF.finditer(gbnf):
        if _lark_name(found.group(1)) == rule:
            return gbnf.count("\n", 0, found.start(1)) + 1
    return None


def _lark_name(gbnf_name: str) -> str:
    # The converter's renaming (llguidance.gbnf_to_lark.resolve): root -> start, '-' -> '_',
    # camelCase -> snake_case, case folded.
    if gbnf_name == "root":
        return "start"
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", gbnf_name.replace("-", "_")).lower()


def _located(source: str, line: int | None, message: str) -> str:
    where = f"{source}, line {line}" if line is not None else source
    return f"{where}: {message}"


# --- matching (needs a tokenizer; masking needs torch) -------------------------------------

_TOKENIZERS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def _ll_tokenizer(hf_tokenizer: Any, eos_ids: frozenset[int], n_vocab: int) -> Any:
    """llguidance's view of a fast HF tokenizer, cached per tokenizer (building it walks the
    whole vocabulary: about a second for a 150k vocabulary)."""
    llg = _llguidance()
    from llguidance.hf import from_tokenizer

    key = (tuple(sorted(eos_ids)), n_vocab)
    try:
        per_tokenizer = _TOKENIZERS.setdefault(hf_tokenizer, {})
    except TypeError:  # not weak-referenceable: build it every time
        per_tokenizer = {}
    if key not in per_tokenizer:
        try:
            per_tokenizer[key] = from_tokenizer(
                hf_tokenizer, n_vocab=n_vocab, eos_token=sorted(eos_ids) or None
            )
        except ValueError as e:
            raise InferenceError(
                f"grammar-constrained decoding needs a fast tokenizer: {e}",
                hint="Use a base model that ships tokenizer.json.",
            ) from None
    assert isinstance(per_tokenizer[key], llg.LLTokenizer)
    return per_tokenizer[key]


# (id of an LLTokenizer, grammar) -> (that tokenizer, a matcher never advanced). A new answer
# starts from a copy: building a matcher costs about a millisecond (a server starts one per
# constrained request), copying one a microsecond. The tokenizer is kept so its id stays its.
_PRISTINE: OrderedDict[tuple[int, GrammarSpec], tuple[Any, Any]] = OrderedDict()
_PRISTINE_MAX = 64
_PRISTINE_LOCK = threading.Lock()


def _fresh_matcher(ll_tokenizer: Any, spec: GrammarSpec) -> Any:
    """An LLMatcher at the start of ``spec``, for ``ll_tokenizer``."""
    key = (id(ll_tokenizer), spec)
    with _PRISTINE_LOCK:
        found = _PRISTINE.get(key)
        if found is not None:
            _PRISTINE.move_to_end(key)
            return found[1].deep_copy()
    matcher = _llguidance().LLMatcher(ll_tokenizer, compile_grammar(spec), log_level=0)
    if not matcher.is_error():  # a failed one is rebuilt each time, to report its error
        with _PRISTINE_LOCK:
            _PRISTINE[key] = (ll_tokenizer, matcher.deep_copy())
            while len(_PRISTINE) > _PRISTINE_MAX:
                _PRISTINE.popitem(last=False)
    return matcher


class GrammarMatcher:
    """Tracks one answer against a grammar: which tokens may come next, and when it is done.

    EOS tokens are allowed only where the grammar accepts the text so far; ``done`` is true
    once nothing but EOS may follow (the decoder stops there).
    """

    def __init__(
        self, spec: GrammarSpec, hf_tokenizer: Any, eos_ids: frozenset[int], n_vocab: int
    ) -> None:
        self.spec = spec
        self._n_vocab = n_vocab
        self._tokenizer = _ll_tokenizer(hf_tokenizer, eos_ids, n_vocab)
        self._matcher = _fresh_matcher(self._tokenizer, spec)
        self._raise_on_error()

    @property
    def done(self) -> bool:
        return bool(self._matcher.is_stopped())

    @property
    def accepting(self) -> bool:
        return bool(self._matcher.is_accepting())

    def mask(self, logits: Any) -> Any:
        """``logits`` ([vocab] tensor) with every token the grammar forbids set to -inf."""
        import torch

        bias = torch.frombuffer(bytearray(self._matcher.compute_logit_bias()), dtype=torch.uint8)
        self._raise_on_error()
        n = logits.shape[-1]
        if bias.numel() >= n:  # the usual case: one entry per logit (or more, cut)
            keep = bias[:n].bool()
        else:
            keep = torch.zeros(n, dtype=torch.bool)
            keep[: bias.numel()] = bias.bool()
        if not bool(keep.any()):
            raise InferenceError(f"{self.spec.source}: the grammar allows no token here")
        return logits.masked_fill(keep.logical_not_().to(logits.device), float("-inf"))

    def allows(self, token_id: int) -> bool:
        """Whether the grammar may go on with ``token_id`` now, without computing a mask: a
        cheap check (well under a microsecond) that says no to end tokens and on any doubt,
        so that a no only means "compute the mask"."""
        if self._matcher.is_error():
            return False
        return bool(self._matcher.validate_tokens([token_id]) == 1)

    def check(self) -> None:
        """Raise InferenceError when the matcher has failed (after a batched mask)."""
        self._raise_on_error()

    def consume(self, token_id: int) -> None:
        """Advance past ``token_id`` (one the mask allowed)."""
        if not self._matcher.consume_token(token_id):
            self._raise_on_error()

    def _raise_on_error(self) -> None:
        if self._matcher.is_error():
            raise InferenceError(
                f"{self.spec.source}: grammar matcher failed: {self._matcher.get_error()}"
            )


def mask_rows(matchers: list[GrammarMatcher], logits: Any) -> tuple[Any, list[bool]]:
    """``logits`` ([rows, vocab]) with row ``i`` masked by ``matchers[i]``, all rows at once.

    The batch decoder's path: llguidance writes each row's bitmask straight into one int32
    tensor, and the bits are unpacked and applied as a few tensor ops over the whole batch
    (not eight small ops per row). Also returns, per row, whether any token is left (a row
    with none ends with an error; the caller checks each matcher's state too).
    """
    import torch

    words = max((m._n_vocab + 31) // 32 for m in matchers)
    bitmask = torch.zeros(len(matchers), words, dtype=torch.int32)
    base, row_bytes = bitmask.data_ptr(), words * 4
    for i, m in enumerate(matchers):
        # Row i of a contiguous int32 tensor: exactly row_bytes at base + i * row_bytes.
        # (llguidance's thread-pool executor measured slower here: 11 rows of a small
        # vocabulary cost less than handing them to its threads.)
        m._matcher.unsafe_compute_mask_ptr(base + i * row_bytes, row_bytes)
    bits = torch.arange(32, dtype=torch.int32)
    keep = ((bitmask.unsqueeze(-1) >> bits) & 1).bool().view(len(matchers), words * 32)
    n = logits.shape[-1]
    if keep.shape[1] < n:
        keep = torch.nn.functional.pad(keep, (0, n - keep.shape[1]))
    keep = keep[:, :n]
    alive = keep.any(dim=1).tolist()
    masked = logits.masked_fill(keep.logical_not_().to(logits.device), float("-inf"))
    return masked, [bool(a) for a in alive]


def grammar_accepts(
    spec: GrammarSpec, hf_tokenizer: Any, text: str, eos_ids: frozenset[int] = frozenset()
) -> bool:
    """Whether ``text`` is a complete sentence of the grammar, by llguidance's own matcher
    (what tests and the benchmark use to judge outputs)."""
    llg = _llguidance()
    n_vocab = len(hf_tokenizer)
    tokenizer = _ll_tokenizer(hf_tokenizer, eos_ids, n_vocab)
    matcher = llg.LLMatcher(tokenizer, compile_grammar(spec), log_level=0)
    tokens = tokenizer.tokenize_str(text)
    return bool(matcher.consume_tokens(tokens)) and bool(matcher.is_accepting())
