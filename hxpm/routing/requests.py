"""Requests whose text is the object, not the topic (docs/routing.md, "Editing, writing
and conversion requests").

- **Editing requests**: "fix the spelling in this sentence", "proofread my text". The words
  that name the text being edited ("sentence", "text", "grammar") are its object.
- **Writing requests**: "write a sentence using the word 'serendipity'". The text unit
  ("sentence", "paragraph") is what the user wants written, not what the user asks about.
- **Conversions**: "convert this JSON to YAML". The format named before "to"/"into" is the
  input; the answer is in the other one.

An expert matched only by such words, which does not itself claim that task (an expert
that edits, writes, or produces the target format), is not asked (scoring.py).

Plain Python, no I/O: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hxpm.routing.aliases import ALIASES
from hxpm.routing.markers import prose_semicolon
from hxpm.routing.text import CODE_SYMBOLS, Tokens, is_word

# Verbs that ask for an edit of a text on their own ("proofread this"), and verbs that do so
# with an editing object ("fix the spelling", "correct the grammar", "improve the wording").
_EDIT_ALONE = frozenset(
    [
        *("proofread", "spellcheck", "rephrase", "reword", "paraphrase", "rewrite", "copyedit"),
        # a summary is a new text made from the given one: the text is the object here too
        *("summarise", "summarize", "summarising", "summarizing", "simplify"),
        *("soften", "reformulate", "grammatically", "grammatical", "ungrammatical"),
        *("shorten", "condense"),
        # the gist of a text is a summary of it: "what's the gist of this? '...'", "tldr?";
        # a critique is prose about it: "critique this incident email. Too long? '...'"
        *("tldr", "gist", "critique"),
    ]
)
# Requests whose answer is prose about the text handed over, whatever that text holds: a
# summary of a changelog that names tables and columns, a critique of an incident email
# that quotes an error, a proofread of a docstring. The text's identifiers and symbols do
# not make the request one for code (``request_frame``).
_DIGESTS = frozenset(
    [
        *("summarise", "summarize", "summary", "tldr", "gist", "proofread", "critique"),
        "essentials",
    ]
)
_TLDR = ("tl", ";", "dr")
# "make this sentence sound less harsh", "make this message to my team sound less dramatic":
# "make" this many words before
_SOUND_WINDOW = 8
_EDIT_VERBS = frozenset(["fix", "correct", "edit", "improve", "polish", "check", "tidy", "clean"])
_EDIT_OBJECTS = frozenset(
    [
        *("spelling", "spellings", "grammar", "typo", "typos", "punctuation", "wording"),
        *("phrasing", "capitalization", "capitalisation", "misspelling", "misspellings"),
        *("tone", "flow", "clarity"),
    ]
)
# A text an edit verb takes right after it ("fix this sentence", "check my english"); further
# away these words are the topic ("check whether the sentence is a question").
_EDITED_TEXTS = frozenset(
    [
        *("sentence", "sentences", "paragraph", "paragraphs", "english", "text", "summary"),
        *("bio", "email", "letter", "message", "post", "description", "cv", "resume", "essay"),
        *("intro", "introduction", "caption", "draft", "reply", "blurb", "announcement"),
        *("tweet", "headline", "tagline", "slogan", "paragraph", "line", "lines", "verse"),
    ]
)
_OWNERS = frozenset(["this", "these", "my", "the", "our", "his", "her", "their"])
# The words that name the text being edited: matched alone, they are the edit's object.
TEXT_WORDS = frozenset(
    [
        "sentence",
        "sentences",
        "text",
        "texts",
        "paragraph",
        "paragraphs",
        "english",
        "grammar",
        "spelling",
        "wording",
        "phrase",
        "phrases",
        "word",
        "words",
    ]
)
# An expert whose keywords or capabilities contain one of these edits text itself.
EDITING_CLAIMS = frozenset(
    [
        *_EDIT_ALONE,
        "correct",
        "correction",
        "corrections",
        "corrector",
        "fix",
        "fixer",
        "proofreading",
        "proofreader",
        "spellchecker",
        "spelling",
        "typo",
        "typos",
        "edit",
        "editing",
        "editor",
        "rewriting",
        "paraphrasing",
    ]
)


def _comparative(after: tuple[str, ...]) -> str:
    """ "make this sentence funnier", "make this Slack message friendlier": a text word,
    then a comparative ("-er", "more", "less").
    Empty when there is none (not "make a better query": no text word first)."""
    for k, w in enumerate(after):
        if not (w in TEXT_WORDS or w in _EDITED_TEXTS or (k == 0 and w in ("this", "it"))):
            continue  # "make this more formal: hey mate ..." edits what it hands over
        # "make this tweet under 280 characters": a length is a comparison too; "make this
        # email to my landlord more polite": a few words may name whom the text is for
        for nxt in after[k + 1 :]:
            if nxt in ("more", "less", "under") or (nxt.endswith("er") and len(nxt) > 5):
                return nxt
    return ""


def _asked(words: tuple[str, ...]) -> bool:
    return words[:1] == ("is",) or "?" in words


def _edited_text(after: tuple[str, ...]) -> str:
    """The text an edit verb takes right after it: "[this|my] sentence", "english", "this
    LinkedIn summary" (one word may qualify it after an owner); or ""."""
    if after[:1] and after[0] in _OWNERS:
        return next((w for w in after[1:3] if w in _EDITED_TEXTS), "")
    return after[0] if after[:1] and after[0] in _EDITED_TEXTS else ""


# "Can you suggest something punchier?", "give me three stronger openers": a better version
# of a text asked for by a comparative within a few words of the verb.
_SUGGEST = frozenset(["suggest", "offer", "give", "propose"])
_BETTER = frozenset(
    [
        *("stronger", "punchier", "snappier", "catchier", "clearer", "crisper", "sharper"),
        *("tighter", "bolder", "warmer", "friendlier", "simpler", "shorter", "better"),
        *("livelier", "smoother", "nicer", "softer"),
    ]
)
_BETTER_WINDOW = 4


def _better_one(verb: str, after: tuple[str, ...]) -> str:
    """ "suggest ... punchier" when ``verb`` asks for a better text; empty otherwise."""
    if verb not in _SUGGEST:
        return ""
    found = next((w for w in after if w in _BETTER), "")
    return f"{verb} ... {found}" if found else ""


def editing_request(tokens: Tokens) -> str | None:
    """What makes the prompt an editing request ("fix ... spelling"), or None."""
    words = tokens.words
    verb = thing = None
    for i, w in enumerate(words):
        if w in _EDIT_ALONE:
            return w
        if words[i : i + 3] == _TLDR:
            return "tl;dr"
        if w == "summary" and words[i + 1 : i + 2] == ("of",):  # "one-line summary of this"
            return "summary of"
        if w == "spell" and words[i + 1 : i + 3] == ("-", "check"):
            return "spell-check"
        if w == "sound" and "make" in words[max(0, i - _SOUND_WINDOW) : i]:
            return "make ... sound"
        if w == "make" and _comparative(words[i + 1 : i + 1 + _SOUND_WINDOW]):
            return "make ... " + _comparative(words[i + 1 : i + 1 + _SOUND_WINDOW])
        better = _better_one(w, words[i + 1 : i + 1 + _BETTER_WINDOW])
        if better:
            return better
        if w in ("correct", "right") and i > 0 and words[i - 1] in _EDITED_TEXTS and _asked(words):
            return f"is ... {words[i - 1]} {w}"  # "is this sentence correct: '...'?"
        if w in ("natural", "correct", "proper", "plain") and words[i + 1 : i + 2] == ("english",):
            return f"{w} english"  # "is this natural English? I wrote: '...'"
        sort_out = w == "sort" and words[i + 1 : i + 2] == ("out",)  # "sort out the grammar"
        # "can you correct: I am coach of children team ..." ("check:" often asks a question)
        if w in _EDIT_VERBS - {"check"} and words[i + 1 : i + 2] == (":",) and len(words) > i + 3:
            return f"{w}: ..."
        if w in _EDIT_VERBS or sort_out:
            start = i + 2 if sort_out else i + 1
            edited = _edited_text(words[start : start + 3])
            if edited:
                return f"{w} ... {edited}"
            verb = verb or ("sort out" if sort_out else w)
        elif w in _EDIT_OBJECTS:
            thing = thing or w
    # Either order: "fix the spelling", "the wording is clumsy, can you improve it".
    return f"{verb} ... {thing}" if verb and thing else None


_TEXT_OPENERS = frozenset([":", '"', "“", "?"])  # "can you improve the flow? Hash tables …"
_QUOTES = frozenset(['"', "'", "“", "”"])


def _code_token(tokens: Tokens, i: int) -> bool:
    """A code symbol (not a quote, not a semicolon between clauses of prose) or an
    identifier: what makes a handed-over text code rather than prose."""
    w = tokens.words[i]
    if w == ";":
        return not prose_semicolon(tokens, i)
    return (w in CODE_SYMBOLS and w not in _QUOTES) or "_" in w.strip("_")


def request_frame(tokens: Tokens, shapes: bool) -> frozenset[str]:
    """The words of the request before the prose it hands over ("reword this for my boss:
    The SQL query returned ..." -> reword, this, for, my, boss), or empty when the prompt
    hands over no text after a colon, a question mark or an opening quote (a single quote
    after a space too), or shows code (``shapes``: a language's shape; a code symbol other
    than a quote; an identifier). Code inside the handed-over text still gives the frame
    when the request asks for a digest of it (``_DIGESTS``: "tl;dr: '... user_id ...'")."""
    words = tokens.words
    glued = tokens.glued
    at = next(
        (i for i, w in enumerate(words) if w in _TEXT_OPENERS or (w == "'" and not glued[i])),
        None,
    )
    if at is None or len(words) - at <= 3:
        return frozenset()
    if any(_code_token(tokens, i) and not _in_tldr(words, i) for i in range(at)):
        return frozenset()
    if shapes or any(_code_token(tokens, i) for i in range(at, len(words))):
        return frozenset(words[:at]) if _digests(words[:at]) else frozenset()
    return frozenset(words[:at])


def _in_tldr(words: tuple[str, ...], i: int) -> bool:
    """The semicolon of "tl;dr" is no code."""
    return words[i - 1 : i + 2] == _TLDR


def _digests(request: tuple[str, ...]) -> bool:
    """The request asks for prose about the text it hands over (``_DIGESTS``)."""
    return any(w in _DIGESTS or request[i : i + 3] == _TLDR for i, w in enumerate(request))


def claims_editing(keywords: tuple[str, ...], capability_words: tuple[str, ...]) -> bool:
    """Whether an expert says it edits text: a word of its keywords or capability values."""
    return _claims(keywords, capability_words, EDITING_CLAIMS)


# --- writing requests --------------------------------------------------------------------------

# Verbs that ask for a text to be produced, and the words that may stand between the verb
# and the text unit ("write me two short sentences", "make up a funny sentence").
_WRITE_VERBS = frozenset(
    [
        *("write", "compose", "draft", "generate", "create", "produce", "invent", "craft"),
        *("make", "give", "suggest"),
    ]
)
_BETWEEN = frozenset(
    [
        "a",
        "an",
        "the",
        "me",
        "us",
        "up",
        "some",
        "one",
        "two",
        "three",
        "few",
        "short",
        "simple",
        "long",
        "new",
        "funny",
        "example",
        "single",
        "nice",
        "good",
        "original",
        # "give me an example of a compound sentence"
        *("examples", "of", "compound", "complex", "complete"),
    ]
)
_WRITE_WINDOW = 7  # words after the verb in which the text unit must come
WRITING_CLAIMS = frozenset(
    ["write", "writer", "writing", "compose", "composition", "generate", "generation"]
)


def writing_request(tokens: Tokens) -> str | None:
    """What makes the prompt ask for a text to be written ("write ... sentence"), or None."""
    words = tokens.words
    for i, w in enumerate(words):
        if w not in _WRITE_VERBS:
            continue
        for nxt in words[i + 1 : i + 1 + _WRITE_WINDOW]:
            if nxt in TEXT_WORDS:
                return f"{w} ... {nxt}"
            if nxt not in _BETWEEN:
                break
    return None


def claims_writing(keywords: tuple[str, ...], capability_words: tuple[str, ...]) -> bool:
    """Whether an expert says it writes text: a word of its keywords or capability values."""
    return _claims(keywords, capability_words, WRITING_CLAIMS)


# --- translations ---------------------------------------------------------------------------

TRANSLATING_CLAIMS = frozenset(
    ["translate", "translation", "translations", "translator", "translating"]
)


def claims_translating(keywords: tuple[str, ...], capability_words: tuple[str, ...]) -> bool:
    """Whether an expert says it translates: a word of its keywords or capability values."""
    return _claims(keywords, capability_words, TRANSLATING_CLAIMS)


# --- conversions --------------------------------------------------------------------------------

_CONVERT_VERBS = frozenset(
    ["convert", "translate", "transform", "turn", "port", "migrate", "transpile", "change"]
)
# Formats and languages a conversion may aim at, besides the alias table's names.
# Query languages that are no alias of another: "convert this to a MongoDB query: SELECT ..."
# asks for MongoDB, which only an expert listing it writes.
OTHER_QUERY_LANGUAGES = frozenset(
    ["mongodb", "mongo", "graphql", "sparql", "gremlin", "dax", "linq", "kql"]
)
_FORMATS = frozenset(
    [
        "json",
        "yaml",
        "yml",
        "toml",
        "xml",
        "csv",
        "tsv",
        "html",
        "markdown",
        "ini",
        "protobuf",
        "sql",
        "cypher",
        "python",
        "rust",
        "java",
        "javascript",
        "typescript",
        "go",
        "c",
        "c++",
        "c#",
        "kotlin",
        "swift",
        "ruby",
        "php",
        "bash",
        "excel",
        "latex",
        *OTHER_QUERY_LANGUAGES,
    ]
)
_TARGETS = _FORMATS | frozenset(ALIASES) | frozenset(a for v in ALIASES.values() for a in v)
_SKIP_BEFORE_TARGET = frozenset(["a", "an", "the", "valid", "plain", "proper"])


@dataclass(frozen=True, slots=True)
class Conversion:
    """ "convert this JSON to YAML": the words of the input part and the target's name."""

    source: frozenset[str]
    target: str

    def describe(self) -> str:
        return f"a conversion to {self.target!r}"


def conversion_request(tokens: Tokens) -> Conversion | None:
    """A request to convert something named before "to"/"into" into a format or language
    named after it ("convert this JSON to YAML"), or None ("convert celsius to fahrenheit"
    names no format; "convert to JSON: ..." has no input part)."""
    words = tokens.words
    verb = next((i for i, w in enumerate(words) if w in _CONVERT_VERBS), None)
    if verb is None:
        return None
    for j in range(verb + 2, len(words) - 1):
        if words[j] not in ("to", "into"):
            continue
        k = j + 1
        while k < len(words) - 1 and words[k] in _SKIP_BEFORE_TARGET:
            k += 1
        target = words[k]
        if target in _TARGETS and target not in words[verb + 1 : j]:
            return Conversion(frozenset(words[verb + 1 : j]), target)
        return None
    return None


def _claims(
    keywords: tuple[str, ...], capability_words: tuple[str, ...], claims: frozenset[str]
) -> bool:
    for text in (*keywords, *capability_words):
        for word in re.split(r"[^\w]+", text.lower().replace("_", " ")):
            if word and is_word(word) and word in claims:
                return True
    return False
