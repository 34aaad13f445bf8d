"""Whose task a prompt is: what the whole prompt shows (:class:`Context`, the same for every
candidate) and why an expert's hits may name only the text, format or language a request
works on rather than its task (docs/routing.md: "Editing, writing and conversion requests",
"About, not for", "The object, not only the format").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hxpm.routing.aliases import EVERYDAY_TASK_WORDS
from hxpm.routing.artifacts import DATA_FORMATS, INTO_WORDS
from hxpm.routing.compiled import CAPABILITY, EXCLUDE, Compiled, Spec
from hxpm.routing.fields import other_fields
from hxpm.routing.intent import About
from hxpm.routing.profile_index import ProfileMatch
from hxpm.routing.requests import OTHER_QUERY_LANGUAGES, TEXT_WORDS, Conversion
from hxpm.routing.variants import singular_of

# How clearly the rest of a prompt must lean toward the expert's training prompts (profile
# similarity without the word in question; 0 is "as much the expert's as general") for the
# profile to back an everyday word or a format's name.
EVERYDAY_BACKING = 0.1
# ...and in a question that shows no code or material and asks for nothing made ("how do I
# select the right string gauge?"), where a lone everyday word is most often meant in its
# everyday sense (calibrated on the first runs of general7 to general9, docs/routing.md)
QUESTION_BACKING = 0.4
# Function words a profile may know ("classify ... as ..."): they say nothing about what a
# prompt is about, so they never back an everyday word (STOPWORDS are not terms at all).
GRAMMAR_WORDS = frozenset(
    [
        *("as", "if", "so", "but", "than", "then", "into", "about", "up", "out", "off", "over"),
        *("via", "per", "also", "just", "only", "there", "here", "very", "too", "any", "some"),
        *("each", "every", "all", "both", "such", "other", "same", "more", "most", "much"),
        *("around", "first", "last", "next", "before", "after", "again", "always", "never"),
        # the request's frame, not its topic: "how much cargo space does a van need"
        *("need", "needs", "want", "wants", "help", "like", "would", "could", "should"),
    ]
)


@dataclass(frozen=True, slots=True)
class Context:
    """What the whole prompt shows, the same for every candidate."""

    technical: bool = True  # markers.technical_marker: code, data or a name in capitals
    code: bool = True  # markers.code_marker or a language shape: not only a name in capitals
    editing: str | None = None  # requests.editing_request: "fix ... spelling"
    writing: str | None = None  # requests.writing_request: "write ... sentence"
    conversion: Conversion | None = None  # requests.conversion_request: "JSON to YAML"
    material: bool = True  # markers.material_marker: a text handed over ("classify this: ...")
    # language -> the word that names it ("python": "pandas"), Router._named_languages
    languages: dict[str, str] = field(default_factory=dict)
    translation: str | None = None  # languages.translation_request: "translate ... french"
    question: bool = False  # text.is_question: "what colour shoes go with ...?"
    about: About | None = None  # intent.about_request: "how much does Neo4j cost?"
    outputs: frozenset[str] = frozenset()  # formats the answer is asked in ("as JSON")
    target: str | None = None  # languages.target_language: "... Python ... in JavaScript"
    named: frozenset[str] = frozenset()  # languages.named_as_language: "rust:", "pythn fn"
    data: bool = False  # artifacts.asks_for_data: "can you output it as item, color and size?"
    classified: str | None = None  # labels.classified_object: "classify these knots"
    quoted_only: bool = False  # the only code marker is quoted words (markers.QUOTED_WORDS)
    # the only code marker is a programming word ("Monty Python scripts"): a cue may still
    # show an everyday sense
    word_code: bool = False
    # requests.request_frame: the words before a handed-over text, when that text is prose
    frame: frozenset[str] = frozenset()
    cued: dict[str, str] = field(default_factory=dict)  # senses.cued_senses: "graph" -> "bar"
    # senses.maths_cue when the prompt names no language and asks for nothing made
    maths: str | None = None
    artifact: bool = True  # artifacts.asks_for_artifact: "write", "give", "list" ... as verbs
    fields: frozenset[str] = frozenset()  # fields.asked_fields: the words read as field names
    prose: bool = False  # artifacts.asks_for_prose_only: "write release notes from this changelog"
    error: str | None = None  # reasons.reported_error, unless code is asked for: "KeyError: ..."

    def plain_question(self) -> bool:
        """A question that shows no code, data or material and asks for nothing made."""
        return self.question and not (self.code or self.material or self.data or self.artifact)


def not_its_task(c: Compiled, hits: list[tuple[Spec, tuple[str, ...]]], ctx: Context) -> str | None:
    """What the prompt asks for instead, when this expert's hits only name the text or
    format the request works on (docs/routing.md, "Editing, writing and conversion
    requests", "About, not for"); None when they are its topic or the expert claims that
    task."""
    about = ctx.about
    if about is not None and (about.only is None or about.only in c.covers):
        return f"a prompt about the technology, not for its output: {about.reason}"
    if ctx.error is not None and c.languages:
        return f"an error reported ({ctx.error!r}) to be explained, not code to write"
    if ctx.editing and not c.edits and _names_the_text(hits, ctx):
        return f"the text of an editing request ({ctx.editing!r})"
    if ctx.writing and not c.writes and _text_words_only(hits):
        return f"the text a writing request asks for ({ctx.writing!r})"
    # (an expert that writes a language writes code, not prose, whatever it claims)
    prose_writer = c.writes and not c.languages
    if ctx.prose and not prose_writer and ctx.frame and _handed_over_only(hits, ctx.frame):
        return "the text handed over to a request for prose"
    if ctx.prose and c.languages and not ctx.code:
        return "a request for prose (an email, a summary, a post), not for code"
    if ctx.translation and not c.translates and _names_the_text(hits, ctx):
        return f"the text of a translation request ({ctx.translation!r})"
    if c.languages and ctx.target is not None and ctx.target not in c.covers:
        return f"the starting point of a request for {ctx.target!r}"
    if c.languages and ctx.languages and not c.covers & ctx.languages.keys():
        lang, word = next(iter(ctx.languages.items()))
        return f"data of a request in another language ({lang!r}, named by {word!r})"
    asked = ctx.languages.keys() - c.covers  # an expert that lists "json schema" writes it
    if not c.languages and asked and _input_format_only(hits, ctx.outputs):
        lang = min(asked)
        word = ctx.languages[lang]
        return f"the input format of a request in another language ({lang!r}, named by {word!r})"
    if ctx.maths is not None and c.languages:
        return f"a maths problem ({ctx.maths!r}), not code"
    coded = ctx.target or _code_asked_in(ctx)  # "convert this postgres query to cypher"
    if coded is not None and coded not in c.covers:
        return f"a request in {coded!r}, which this expert does not write"
    fields = other_fields(c.schema, ctx.fields)
    if fields:
        own = ", ".join(sorted(c.schema))
        return f"an object with other fields ({', '.join(fields)}) than its own {{{own}}}"
    fmt = _answer_format_only(hits)
    if fmt is not None:
        return f"only {fmt!r}, the format its answers come in (a capability), not its task"
    if ctx.classified is not None and _classifying_only(hits):
        return f"classifying {ctx.classified!r}, which is not a text"
    conv = ctx.conversion
    if conv is not None and conv.target in OTHER_QUERY_LANGUAGES and conv.target not in c.covers:
        return f"{conv.describe()}, which this expert does not write"
    if conv is not None:
        forms = [form for spec, form in hits if spec.kind != EXCLUDE]
        if forms and all(f[0] in conv.source for f in forms):
            return f"the input of {conv.describe()}"
    return None


_CLASSIFYING = EVERYDAY_TASK_WORDS - {"imperative", "declarative"}
# Words that only say "in this format" ("turn ... into a JSON object"): they do not describe
# the object, so they cannot back a format expert's hit.
_FORMAT_FRAME = frozenset(
    [
        *DATA_FORMATS,
        *("turn", "convert", "object", "record", "format", "output", "encode", "put", "need"),
        *("want", "please", "following", "formatted", "structured"),
        # an order is how a format expert's prompts frame an object ("give the order as JSON")
        *("order", "orders", "describing", "describe", "describes"),
        # "item" names any object ("three camping checklist items"), not what it is
        *("item", "items", "array", "list"),
    ]
)


def foreign_object(
    c: Compiled, hits: list[tuple[Spec, tuple[str, ...]]], pm: ProfileMatch | None
) -> str | None:
    """A format expert (it writes no programming language) hit only by its format's name,
    for an object its training prompts never describe: "turn this contact card into JSON"
    is not a clothing item's JSON (docs/routing.md, "The object, not only the format")."""
    if c.languages or pm is None:
        return None
    forms = [word_of(spec, form) for spec, form in hits if spec.kind != EXCLUDE]
    if not forms or not all(w in _FORMAT_FRAME or w in INTO_WORDS for f in forms for w in f):
        return None
    named = [spec.display.strip().lower() for spec, _ in hits if spec.kind != EXCLUDE]
    # the format as written ("json"), or the keyword an alias stands for ("structured record")
    fmt = next((w for w in (*(w for f in forms for w in f), *named) if w in DATA_FORMATS), None)
    if fmt is None:
        return None  # "put this document in the right folder": no format named at all
    if pm.similarity_without(fmt, _FORMAT_FRAME | GRAMMAR_WORDS) > EVERYDAY_BACKING:
        return None
    return f"only the format {fmt!r} of an object its training prompts never describe"


def _input_format_only(hits: list[tuple[Spec, tuple[str, ...]]], outputs: frozenset[str]) -> bool:
    """Every positive hit is a data format's name the answer is not asked in ("read a JSON
    file" in Go is Go code, "print it as JSON" is JSON)."""
    forms = [form for spec, form in hits if spec.kind != EXCLUDE]
    return bool(forms) and all(f[0] in DATA_FORMATS and f[0] not in outputs for f in forms)


def _names_the_text(hits: list[tuple[Spec, tuple[str, ...]]], ctx: Context) -> bool:
    """Every positive hit names the text an editing or translation request works on: a
    text word ("sentence"), or, in prose, a word only the handed-over text uses ("reword
    this for my boss: The SQL query returned ..."). With no hit at all, the profile can only
    recognise the text's topic ("translate 'the invoice is attached' into Italian")."""
    forms = [form for spec, form in hits if spec.kind != EXCLUDE]
    if all(len(f) == 1 and f[0] in TEXT_WORDS for f in forms):
        return True
    # "translate this into natural English: 'Je suis en train ...'": the request names the
    # text's language ("english", a text word); the handed-over text's "en" is not the topic
    # (a phrase in the request is its task: "fix the grammar and tell me the sentence type:")
    return bool(ctx.frame) and all(
        f[0] not in ctx.frame or (len(f) == 1 and f[0] in TEXT_WORDS) for f in forms
    )


def _code_asked_in(ctx: Context) -> str | None:
    """The programming language the prompt asks code in, named by its place ("Go program
    that totals ... by category", "google sheets: sum a column where ..."), or None."""
    for lang, word in ctx.languages.items():
        if lang not in DATA_FORMATS and word.split()[0] in ctx.named:
            return lang
    return None


def _answer_format_only(hits: list[tuple[Spec, tuple[str, ...]]]) -> str | None:
    """The data format, when every positive hit is a capability naming it: a classifier that
    answers in JSON (``format:json``) is not asked by "make JSON for this cake order"."""
    positive = [(spec, form) for spec, form in hits if spec.kind != EXCLUDE]
    if not positive or any(spec.kind != CAPABILITY for spec, _ in positive):
        return None
    names = {spec.display.strip().lower() for spec, _ in positive}
    return min(names) if names <= DATA_FORMATS else None


def _classifying_only(hits: list[tuple[Spec, tuple[str, ...]]]) -> bool:
    """Every positive hit is a word of classifying ("classify", "categories"), or there is
    none: then the profile only recognises words of a request to classify something else."""
    forms = [
        word_of(spec, form)
        for spec, form in hits
        if spec.kind != EXCLUDE and spec.via != "request"  # a labelling request classifies
    ]
    return all(len(f) == 1 and (singular_of(f[0]) or f[0]) in _CLASSIFYING for f in forms)


def _handed_over_only(hits: list[tuple[Spec, tuple[str, ...]]], frame: frozenset[str]) -> bool:
    """Every positive hit stands in the text handed over, none in the request before it
    ("write release notes from this changelog: - fix panic in json parser ...")."""
    forms = [form for spec, form in hits if spec.kind != EXCLUDE]
    return all(f[0] not in frame for f in forms)


def _text_words_only(hits: list[tuple[Spec, tuple[str, ...]]]) -> bool:
    """Every positive hit is one word naming a text ("sentence", "grammar")."""
    forms = [form for spec, form in hits if spec.kind != EXCLUDE]
    return bool(forms) and all(len(f) == 1 and f[0] in TEXT_WORDS for f in forms)


def word_of(spec: Spec, form: tuple[str, ...]) -> tuple[str, ...]:
    """The words a hit stands for: a misspelling stands for the name ("Pyhton" in "Monty
    Pyhton" keeps the everyday sense of "python"); a labelling request for its verb."""
    if spec.via == "typo":
        return (spec.display.strip().lower(),)
    return form[:1] if spec.via == "request" else form
