"""The intent model's veto (docs/routing.md, "The intent model"): a decision for an expert
goes back to the bare base when the prompt reads like a general prompt.

The rules before it read words; the model reads the frame a prompt is written in. It speaks
only where the rules' evidence is weakest: a prompt that shows no code (no language shape,
no code symbol but quotes, no snake_case name, no quotation to work on, no "this query"
pointed at, no "what query should I write to ...", no piece of code asked for: "write a
Rust function that ..."), does not open with the imperative of a classifying task, asks no
labelling or label question, and is no editing, writing or translation request of an
expert that claims that task. There, P(a request for an expert) below INTENT_THRESHOLD
hands the prompt to the base; below the stricter NAMED_LANGUAGE_THRESHOLD when the prompt
names a language the chosen expert writes ("is SQL hard to learn?" against "how do i
reverse a string in python3"), and below the strictest ARTIFACT_THRESHOLD when it asks for
something made other than prose ("write", "list", "give me the object": artifacts.py;
"write a toast" is prose). Where those signs shield a prompt, the model still speaks when it
is certain: below GATED_THRESHOLD ("how big should shared_buffers be on a dedicated 64GB
postgres box" shows a snake_case name). Plain Python: a dictionary lookup per feature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from hxpm.routing.artifacts import asks_for_code, asks_for_prose
from hxpm.routing.code_questions import code_to_write
from hxpm.routing.compiled import Compiled
from hxpm.routing.decision import RouteDecision
from hxpm.routing.intent_model import bundled, static_tech_words
from hxpm.routing.markers import prose_semicolon, snake_case_name
from hxpm.routing.task_fit import Context
from hxpm.routing.text import CODE_SYMBOLS, DEICTIC, Tokens, artifact_marker, tokenize

# Calibrated by leaving each group of blind sets out of training (docs/routing.md): at 0.05
# the veto dropped 4 of 2,121 correct expert routes and caught 15 of the 18 general prompts
# the router sent to an expert on general11's first run.
INTENT_THRESHOLD = 0.05
# A prompt that names the language the chosen expert writes is most often a request for it;
# the veto needs the model to be surer there. Calibrated the same way (docs/routing.md, "The
# intent model"): at 0.01 it dropped none of the 233 correct expert routes that name their
# language and caught 6 of the 7 general prompts ("is SQL hard to learn ...") routed so;
# with rounds 14 and 15 as one more left-out group, 1 of 263 (at P 0.0099) and 31 of 39.
NAMED_LANGUAGE_THRESHOLD = 0.01
# A prompt that asks for something made ("give me", "write", "list") is a request of some
# kind: the model may veto it only when it is all but sure. Calibrated the same way: of the
# prompts only this gate kept from the model, seven left-out groups held 294 correct expert
# routes and 23 general prompts; at 0.005 none of the routes was lost and 15 of the 23 were
# caught (at 0.02, 3 routes lost).
ARTIFACT_THRESHOLD = 0.005
# A prompt the signs above shield (code shown, a quotation to work on, a request the rules
# matched) is read by the rules; the model overrules them only when it is certain. Calibrated
# the same way over every blind and general set (docs/routing.md, "The intent model"): of the
# 2,775 correct expert routes so shielded none had P below 0.0003, and 10 of the 31 general
# prompts so shielded had P below 0.0002 ("how big should shared_buffers be on a dedicated
# 64GB postgres box").
GATED_THRESHOLD = 0.0002
# Code shown (a code symbol, a snake_case name) and no other sign is the weakest shield:
# "Is work_mem per query or per connection?" names a setting, it asks for no query. Calibrated
# the same way (leaving each of eight groups of sets out of training, with round 28 in
# development): of 401 correct expert routes shielded only so, 2 had P below 0.02 (1 below
# the gated bar already; the next two at 0.030 and 0.033), and 83 of the 113 general prompts
# so shielded did (56 below the gated bar).
SHOWN_CODE_THRESHOLD = 0.02
_QUOTES = frozenset(['"', "'"])
# Imperative verbs of a classification or labelling task: "Categorize these emails as spam
# or not spam" orders the task whatever else it says.
_TASK_VERBS = frozenset(
    ["classify", "categorise", "categorize", "label", "tag", "sort", "identify", "determine"]
)


def masked_words(candidates: Iterable[Compiled]) -> frozenset[str]:
    """Words the model reads as ``<tech>``: hxpm's technology words and every word of an
    installed expert's keywords (so an expert on a topic the model never saw is read by the
    frames of its requests, not by its topic)."""
    words = set(static_tech_words())
    for c in candidates:
        for keyword in c.candidate.keywords:
            words.update(tokenize(str(keyword)).words)
    return frozenset(words)


def intent_veto(
    decision: RouteDecision,
    tokens: Tokens,
    ctx: Context,
    shaped: bool,
    requested: bool,
    experts: Mapping[str, Compiled],
    masked: Callable[[], frozenset[str]],
) -> RouteDecision:
    """``decision``, or the bare base's when the model reads a general prompt (see module).
    ``masked`` gives the words read as ``<tech>`` (:func:`masked_words`), asked only when the
    model is."""
    chosen = experts.get(decision.chosen) if decision.chosen is not None else None
    if chosen is None or _converts_into_its_language(chosen, ctx):
        return decision
    if _shielded(decision, tokens, ctx, shaped or requested, chosen):
        threshold, why = GATED_THRESHOLD, ", the bar for a prompt its code or request shields"
    else:
        named = _names_its_language(chosen, decision, ctx)
        threshold, why = _bar(named, ctx.artifact and not asks_for_prose(tokens))
        if _shows_code(tokens) and threshold > SHOWN_CODE_THRESHOLD:
            threshold, why = SHOWN_CODE_THRESHOLD, ", the bar for a prompt that shows code"
    p = bundled().probability(tokens.words, masked())
    if p >= threshold:
        return decision
    shown = f"{p:.4f}" if p >= 0.0001 else f"{p:.2g}"
    reason = (
        f"reads like a general prompt, not a request for {decision.chosen} "
        f"(intent model: P(request) {shown} < {threshold:g}{why}); the bare base model answers"
    )
    return RouteDecision(
        decision.prompt, None, decision.generic, reason, decision.scores, decision.min_score
    )


def _shielded(
    decision: RouteDecision, tokens: Tokens, ctx: Context, matched: bool, chosen: Compiled
) -> bool:
    """A sign the model reads less well than the rules (see module): a language's shape or a
    request the rules matched (``matched``), code pointed at, a quotation to work on, a
    classifying imperative, a piece of code asked for, or a task the expert claims. Code
    shown and nothing else is a weaker sign (SHOWN_CODE_THRESHOLD)."""
    return (
        matched
        or _quotes_material(tokens, decision.prompt)
        or _orders_a_task(tokens)
        or _points_at_code(tokens)
        or code_to_write(tokens) is not None
        or asks_for_code(tokens)
        or _claims_the_request(chosen, ctx)
    )


def _bar(named: bool, asks_for_something: bool) -> tuple[float, str]:
    """The P(request) below which the model vetoes, and how the reason names it."""
    if asks_for_something:
        return ARTIFACT_THRESHOLD, ", the strictest bar, for a prompt asking for something made"
    if named:
        return NAMED_LANGUAGE_THRESHOLD, ", the stricter bar for a prompt naming its language"
    return INTENT_THRESHOLD, ""


def _shows_code(tokens: Tokens) -> bool:
    """Code the prompt shows, not a programming word it uses: a code symbol other than a
    quote, or a snake_case name (a language's shape is checked by the caller)."""
    words = tokens.words
    # "Must know REDCap, relational databases and GDPR; nice to have R.": prose's semicolon
    if any(
        w in CODE_SYMBOLS and w not in _QUOTES and not (w == ";" and prose_semicolon(tokens, i))
        for i, w in enumerate(words)
    ):
        return True
    return snake_case_name(tokens) is not None


def _names_its_language(chosen: Compiled, decision: RouteDecision, ctx: Context) -> bool:
    """The prompt names the language the expert writes: "how do i get the last three items
    of a list in python", "show me in Cypher how to list the Films a Director DIRECTED"."""
    if chosen.covers & ctx.languages.keys():
        return True
    best = next((s for s in decision.scores if s.name == decision.chosen), None)
    return best is not None and bool(chosen.languages.intersection(best.keyword_hits))


def _converts_into_its_language(chosen: Compiled, ctx: Context) -> bool:
    """A conversion into the language the expert writes ("translate this JSON into a python
    dict") asks for that language by its form: the model, which reads it as a translation,
    has no say (P fell to 0.0001 for that prompt once round 28 was in its training)."""
    return ctx.conversion is not None and ctx.conversion.target in chosen.covers


def _claims_the_request(chosen: Compiled, ctx: Context) -> bool:
    """An expert that says it edits, writes or translates keeps such requests: the model
    learnt from experts that do none of these, so it reads them as general prompts."""
    return bool(
        (chosen.edits and ctx.editing)
        or (chosen.writes and ctx.writing)
        or (chosen.translates and ctx.translation)
    )


def _quotes_material(tokens: Tokens, prompt: str) -> bool:
    """A quotation of two words or more, when it is the first sign of supplied material
    (text.artifact_marker), is material to work on ("what's the sentence type of 'has the
    parcel arrived yet'"), as for the generic-question rule. Any quotation would keep more
    general prompts away from the veto (general13: 15 routed, not 11)."""
    return artifact_marker(tokens, prompt) == "a quotation"


_CODE_PIECES = frozenset(
    ["query", "queries", "function", "functions", "script", "snippet", "code", "program"]
)


def _points_at_code(tokens: Tokens) -> bool:
    """ "explain this cypher query", "what's wrong with the following python function": the
    prompt works on a piece of code it points at, whether or not it is pasted yet."""
    words = tokens.words
    return any(
        w in DEICTIC and not _CODE_PIECES.isdisjoint(words[i + 1 : i + 3])
        for i, w in enumerate(words)
    )


def _orders_a_task(tokens: Tokens) -> bool:
    """The prompt opens with the imperative of a classifying task."""
    return tokens.words[:1] != () and tokens.words[0] in _TASK_VERBS
