"""Text handling for the router: normalisation, tokens, keyword forms, question shapes.

Matching works on *tokens*, not substrings: a token is a run of word characters (``\\w+``,
Unicode-aware) or one punctuation character. Each token remembers whether whitespace came
before it ("glued" when none did). A keyword is tokenised the same way and matches a run of
prompt tokens that are equal and glued the same way, so

- ``sql`` never matches inside ``nosqlite`` (that is one token),
- ``group by`` matches ``GROUP \\n BY`` (whitespace of any kind and length is one gap),
- ``node.js`` / ``c++`` / ``json-schema`` match exactly those spellings, and ``c`` does not
  match the ``c`` of ``c++`` or ``c#`` (see :func:`suffix_blocks`).

Everything here is plain Python with no third-party imports: ``hxpm route`` must start fast.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A word (letters, digits, underscore, any script) or a single non-space character, with the
# whitespace before it captured so that "glued" (no whitespace before) can be recorded.
_TOKEN_RE = re.compile(r"(\s*)(\w+|[^\w\s])")

# Apostrophe look-alikes that NFKC leaves alone; "what’s" must read like "what's".
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'"})

# A word keyword must not match the "c" of "c++" / "c#" / "f#": those suffixes make another word.
_BLOCKING_SUFFIXES = frozenset({"+", "#"})

# Single-word keywords that would match nearly every prompt; a publisher listing one gets
# nothing for it (and `--explain` says so) instead of capturing all traffic.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "and",
        "or",
        "not",
        "no",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "we",
        "he",
        "she",
        "they",
        "me",
        "my",
        "your",
        "our",
        "how",
        "what",
        "why",
        "who",
        "when",
        "where",
        "which",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "please",
    ]
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """A tokenised text: ``words[i]`` is a token, ``glued[i]`` is True when no whitespace
    separated it from the previous token (False for the first token)."""

    words: tuple[str, ...]
    glued: tuple[bool, ...]


def normalize(text: str) -> str:
    """NFKC, drop invisible format characters, casefold (NFKC again after casefold, which can
    denormalise). ASCII, the common case, takes a fast path with the same result."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    # Zero-width spaces/joiners, bidi controls, soft hyphens (category Cf) are invisible: a
    # reader sees "sql" in "s\u200bql", so the router should too.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", text.casefold()).translate(_APOSTROPHES)


def tokenize(text: str) -> Tokens:
    """Tokens of ``normalize(text)``."""
    pairs = _TOKEN_RE.findall(normalize(text))
    words = tuple(tok for _, tok in pairs)
    glued = tuple(i > 0 and not space for i, (space, _) in enumerate(pairs))
    return Tokens(words, glued)


def is_word(token: str) -> bool:
    # Tokens are either \w+ runs or one non-word character, so the first character decides.
    return bool(token) and (token[0].isalnum() or token[0] == "_")


_DOUBLE_QUOTES = frozenset(['"', "\u201c", "\u201d"])


def outside_quotes(tokens: Tokens) -> tuple[str, ...]:
    """The words that are not inside a quotation: the request around a quoted text ("Is
    'Please sign a little slower.' a question?" asks nothing about being slow). A single
    quote opens after a space and closes at the next one (a contraction may close it early:
    the cost is only a few words read as the request)."""
    words, glued = tokens.words, tokens.glued
    out: list[str] = []
    closing = ""
    for i, w in enumerate(words):
        if closing:
            if w == closing or (closing == '"' and w in _DOUBLE_QUOTES):
                closing = ""
            continue
        if w in _DOUBLE_QUOTES:
            closing = '"'
        elif w == "'" and not glued[i] and i + 1 < len(words):
            closing = "'"
        else:
            out.append(w)
    return tuple(out)


def word_count(tokens: Tokens) -> int:
    """Words as a reader counts them: whitespace-separated chunks ("json-schema" is one)."""
    return sum(1 for g in tokens.glued if not g) if tokens.words else 0


def plural_forms(word: str) -> tuple[str, ...]:
    """English plural (and third-person -s) spellings of ``word``, for keyword tolerance.

    Only plurals: verb forms ("selected", "joined", "documented", "matched") are common in
    ordinary prose and would make "select", "join", "document" and "match" fire on it. Only
    ASCII letters of 3+ characters, and not words that already end in a lone "s"
    ("pandas", "postgres"), which are most likely plural already.
    """
    if len(word) < 3 or not (word.isascii() and word.isalpha()):
        return ()
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return ()
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return (word + "es",)
    if word.endswith("y") and word[-2] not in "aeiou":
        return (word[:-1] + "ies",)
    if word.endswith("o"):
        return (word + "s", word + "es")
    return (word + "s",)


def keyword_forms(tokens: Tokens) -> tuple[tuple[str, ...], ...]:
    """Every token sequence a keyword accepts: itself, its last word in the other -ize/-ise
    spelling, and those pluralised ("borrow checker" -> "borrow checkers")."""
    forms = [tokens.words]
    last = tokens.words[-1]
    for spelling in (last, *_other_spelling(last)):
        if spelling != last:
            forms.append((*tokens.words[:-1], spelling))
        for plural in plural_forms(spelling):
            forms.append((*tokens.words[:-1], plural))
    return tuple(forms)


def _other_spelling(word: str) -> tuple[str, ...]:
    """British and American spellings of -ize/-ise verbs: "categorize" <-> "categorise"."""
    if len(word) > 5 and word.isascii():
        for a, b in (("ize", "ise"), ("ise", "ize")):
            if word.endswith(a):
                return (word[: -len(a)] + b,)
    return ()


def matches_at(prompt: Tokens, start: int, form: tuple[str, ...], glued: tuple[bool, ...]) -> bool:
    """Whether ``form`` (first token already known equal) occurs at ``start``, glued alike."""
    end = start + len(form)
    if end > len(prompt.words):
        return False
    for k in range(1, len(form)):
        if prompt.words[start + k] != form[k] or prompt.glued[start + k] != glued[k]:
            return False
    return not suffix_blocks(prompt, end, form[-1])


def suffix_blocks(prompt: Tokens, end: int, last: str) -> bool:
    """A match ending in a word is void when "+"/"#" is glued on ("c" in "c++")."""
    return (
        end < len(prompt.words)
        and prompt.glued[end]
        and prompt.words[end] in _BLOCKING_SUFFIXES
        and is_word(last)
    )


# --- question shapes -------------------------------------------------------------------------

# Openers of a generic question, as token sequences. "how do/to" is left out on purpose: "how
# do I join two tables" asks for a task an expert does, unlike "how does a join work".
_GENERIC_OPENERS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (phrase, tokenize(phrase).words)
    for phrase in (
        "what is",
        "what are",
        "what was",
        "what were",
        "what's",
        "whats",
        "what does",
        "who is",
        "who are",
        "who was",
        "who were",
        "who's",
        "where is",
        "where are",
        "where was",
        "where's",
        "when is",
        "when are",
        "when was",
        "when were",
        "when did",
        "why",
        "how does",
        "how is",
        "how are",
        "explain",
        "define",
        "describe",
        "tell me about",
        "tell me what",
        "meaning of",
        "definition of",
        "the meaning of",
        "the definition of",
    )
)

# Leading words that do not change what is asked ("please explain", "can you describe").
_FILLER_WORDS = frozenset(
    [
        "please",
        "pls",
        "plz",
        "hey",
        "hi",
        "hello",
        "ok",
        "okay",
        "so",
        "um",
        "hmm",
        "quick",
        "question",
        "briefly",
        "quickly",
        "just",
        "now",
        "kindly",
    ]
)
_FILLER_PAIRS = frozenset(
    {
        ("can", "you"),
        ("could", "you"),
        ("would", "you"),
        ("will", "you"),
        ("can", "u"),
        ("could", "u"),
    }
)

# Signs that a question is about a concrete artifact the user supplies ("explain THIS query:
# ..."), not about a concept ("what is SQL?"). Deictic words, code punctuation, or a colon
# with something after it.
DEICTIC = frozenset(["this", "these", "following", "below", "above", "attached", "given"])
# "my"/"our" supply material only when they own a piece of work ("my query", "our sales
# table"), not a person ("our analyst keeps mentioning both", "my manager says JSON").
_POSSESSIVES = frozenset(["my", "our"])
_OWNED_WINDOW = 2  # words after "my": "my old query", "our sales table"
_OWNED_WORK = frozenset(
    [
        *("query", "queries", "sql", "code", "script", "scripts", "function", "functions"),
        *("snippet", "program", "table", "tables", "schema", "database", "db", "data"),
        *("dataset", "json", "csv", "file", "files", "document", "documents", "doc", "docs"),
        *("text", "sentence", "sentences", "paragraph", "graph", "node", "nodes", "statement"),
        *("regex", "expression", "list", "string", "output", "result", "results", "column"),
        *("columns", "rows", "records", "record", "object", "struct", "class", "method"),
        *("loop", "config", "payload", "invoice", "report", "email", "message", "letter"),
        *("contract", "notes", "cypher", "python", "rust", "crate", "module", "array"),
    ]
)
CODE_SYMBOLS = frozenset(["`", "{", "}", "[", "]", ";", "=", "<", ">", '"', "|"])


def generic_opener(prompt: Tokens) -> str | None:
    """The generic-question opener the prompt starts with ("what is"), or None."""
    words = prompt.words
    i = _skip_fillers(words)
    if words[i : i + 1] == ("in",):  # a topic first: "in grammar what's a run-on sentence"
        comma = next((k for k in range(i + 2, min(i + 5, len(words))) if words[k] == ","), None)
        i = comma + 1 if comma is not None else i + 2  # "in the ear, what is ..."
    for phrase, opener in _GENERIC_OPENERS:
        if words[i : i + len(opener)] == opener:
            return phrase
    return None


def _skip_fillers(words: tuple[str, ...]) -> int:
    i = 0
    while i < len(words):
        if words[i] in _FILLER_WORDS or not is_word(words[i]):
            i += 1
        elif tuple(words[i : i + 2]) in _FILLER_PAIRS:
            i += 2
        else:
            break
    return i


def artifact_marker(prompt: Tokens, raw: str) -> str | None:
    """What shows the prompt carries its own material (a word, a symbol, "a newline"), or None."""
    words = prompt.words
    for i, tok in enumerate(words):
        if tok in DEICTIC:
            return tok
        if tok in _POSSESSIVES and _OWNED_WORK & set(words[i + 1 : i + 1 + _OWNED_WINDOW]):
            return tok
        if tok in CODE_SYMBOLS:
            return tok
        if tok == "'" and not prompt.glued[i] and i + 2 < len(words) and words[i + 2] != "'":
            # "what's the sentence type of 'has it cleared yet'"; one quoted word is a term
            # asked about ("what does 'query' mean on a dental chart")
            return "a quotation"
        # "query: MATCH (n) RETURN n" -- a colon followed by at least two more tokens.
        if tok == ":" and len(words) - i > 2:
            return ":"
    if "\n" in raw.strip():
        return "a line break"
    return None


_WH = frozenset((w,) for w in ("what", "why", "how", "which", "where", "when", "who"))
_AUXILIARIES = frozenset(
    (w,) for w in ("am", "is", "are", "was", "do", "does", "did", "can", "should", "would")
)
# Words a question opens with, once leading fillers are skipped ("which colour goes with ...").
_QUESTION_WORDS = frozenset(
    [
        *("what", "what's", "which", "who", "whom", "whose", "where", "when", "why", "how"),
        *("should", "would", "could", "can", "do", "does", "did", "is", "are", "will"),
    ]
)


def is_question(prompt: Tokens) -> bool:
    """Whether the prompt asks a question: it ends with "?" (before closing quotes), has a
    "?" followed by a further sentence, or opens with a question word ("what colour shoes go
    with jeans")."""
    words = prompt.words
    end = len(words)
    while end > 0 and words[end - 1] in ('"', "'", ")", "”"):
        end -= 1
    if end > 0 and words[end - 1] == "?":
        return True
    # "Pros and cons of a graph database? We're a small club.": a question, then context
    if any(w == "?" and words[k + 1].isalpha() for k, w in enumerate(words[:-1])):
        return True
    i = _skip_fillers(words)
    if words[i : i + 1] in (("in",), ("on",), ("at",), ("for",), ("by",), ("from",)):
        i += 1  # "in what order should I apply skincare products"
    if i < len(words) and words[i] in _QUESTION_WORDS:
        return True
    # "my white shirts are turning grey, what am i doing wrong": a question after a comma;
    # "english homework: what's the difference ...": after a heading's colon
    return any(
        words[k] in (",", ":")
        and words[k + 1 : k + 2] in _WH
        and (words[k + 2 : k + 3] in _AUXILIARIES or words[k + 2 : k + 3] == ("'",))  # what's
        for k in range(len(words) - 2)
    )
