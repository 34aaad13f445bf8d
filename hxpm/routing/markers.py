"""What shows a prompt is about code or data, hands over a text, or shouts (docs/routing.md,
"Everyday senses", "Technical prompts"): the markers the router reads besides the language
shapes of :mod:`hxpm.routing.shapes`.

Plain Python, no I/O: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

import re
import unicodedata

from hxpm.routing.identifiers import named_table
from hxpm.routing.text import CODE_SYMBOLS, Tokens, is_word
from hxpm.routing.variants import Misspellings

# --- technical prompts ---------------------------------------------------------------------

# An identifier in SHOUTING case ("MATCH", "ACTED_IN", "LIKES") is code or a schema name in
# a prompt; two letters at least, so that "I" and "A" do not count.
SHOUTED = re.compile(r"\b[A-Z][A-Z0-9_]{1,}\b")
COMMON_CAPS = frozenset(["OK", "US", "UK", "EU", "TV", "PM", "AM", "ID", "FAQ", "CEO"])
_LETTER_WORDS = re.compile(r"[^\W\d_]{2,}")


# Words that put a prompt in programming or data territory, whatever else it says: with one
# of them, "rust" and "python" are languages, "table" holds rows.
_TECH_WORDS = frozenset(
    [
        "file",
        "files",
        "script",
        "scripts",
        "function",
        "functions",
        "code",
        "csv",
        "tsv",
        "dataframe",
        "loop",
        "loops",
        "arrays",  # not "array": a solar array, an array of options
        "variable",
        "variables",
        "compile",
        "compiler",
        "compiles",
        "api",
        "library",
        "module",
        "modules",
        "method",
        "methods",
        "column",
        "columns",
        "database",
        "schema",
        "regex",
        "json",
        "yaml",
        "xml",
        "html",
        "sql",
        "syntax",
        "terminal",
        "integer",
        "integers",
        "float",
        "floats",
        "boolean",
        "vector",
        "vectors",
        "struct",
        "trait",
        "enum",
        "lambda",
        "dict",
        "tuple",
        "tuples",
        "iterator",
        "closure",
        "runtime",
        "stdin",
        "stdout",
        "unittest",
        "repository",
        "repo",
        "linker",
        "debugger",
        "segfault",
        "traceback",
    ]
)
# A graph of nodes and paths, not a chart: "shortest path in the prereq graph between ..."
_SHORTEST_PATH = ("shortest", "path")
# "funtion in pyhton that ...": one slip in a long word of code still says code. Only words
# no English word is one slip away from ("stout" is one from "stdout", "array" from "arrays").
_TECH_SLIPS = Misspellings()
for _word in ("function", "functions", "variable", "variables", "dataframe", "traceback"):
    _TECH_SLIPS.add(_word, 0)


def technical_marker(prompt: Tokens, raw: str) -> str | None:
    """What shows the prompt is about code or data (a symbol, an identifier, a name in
    capitals), or None."""
    return code_marker(prompt, raw) or capitals_marker(raw)


def code_marker(prompt: Tokens, raw: str) -> str | None:
    """What shows the prompt is about code or data, a name in capitals apart (it may be
    emphasis: "my BOSS"), or None.

    Stricter than :func:`hxpm.routing.text.artifact_marker`: "my" and "this" say the user
    supplies something, not that it is technical ("rust off my bike chain"). A quote counts
    only when it opens a literal ("'card'"), not in a contraction ("don't").
    """
    words = prompt.words
    quoted, skip_to = False, 0
    for i, tok in enumerate(words):
        if tok == ";" and prose_semicolon(prompt, i):
            continue
        if i < skip_to:
            continue  # inside quoted words, or their closing quote
        opens = tok == '"' or (tok == "'" and not prompt.glued[i] and i + 1 < len(words))
        end = _quoted_words(prompt, i) if opens else -1
        if end > 0:
            quoted, skip_to = True, end + 1  # weaker than any other marker: look on
            continue
        if tok in CODE_SYMBOLS:
            return tok
        if tok == "'" and not prompt.glued[i] and i + 1 < len(words):
            return "a quoted literal"
        if tok in _TECH_WORDS or _TECH_SLIPS.lookup(tok) is not None:
            return repr(tok)
        if words[i : i + 2] == _SHORTEST_PATH:
            return "'shortest path'"
        if tok == "(" and prompt.glued[i] and is_word(words[i - 1]):
            return "a call"  # "f(x)"
        if (
            tok == "."
            and i + 1 < len(words)
            and prompt.glued[i + 1]
            and is_word(words[i + 1])
            and not words[i + 1].isdigit()  # "5.6 weeks" is a number
        ):
            return "a file name"  # "main.py", ".txt"
        if "_" in tok.strip("_"):
            return "an identifier"
    if "\n" in raw.strip():
        return "a line break"
    if _FUNCTION_DESCRIPTION.search(raw):
        return "a function's description ('takes ... returns')"
    if named_table(raw) is not None:
        return "a table's name"  # "out of the parcels table"
    return QUOTED_WORDS if quoted else None


# What a function takes and what it returns: "a helper in Python that takes a list of wind
# speeds and returns the strongest gust" describes code (in 141 of 142 routing-set prompts
# that have it, a request for code; the other asks for C). Not "the shop takes returns".
_FUNCTION_DESCRIPTION = re.compile(
    r"(?i)\b(?:takes?|accepts?)\s+\w[^.?!]{0,80}?\s(?:returns?|gives\s+back)\b"
)

# A quotation of words ("her agency was 'complicated'", "a secret cypher: 'Jrrg pruqlqj'"):
# code for every rule but one: it does not take an everyday word out of its everyday sense
# (scoring.py). A value after "is"/"=" ("where kind is 'card'") stays a literal.
QUOTED_WORDS = "quoted words"
_LITERAL_BEFORE = frozenset(["is", "=", "==", "!=", "equals", "like", "contains", "not"])


def _quoted_words(prompt: Tokens, i: int) -> int:
    """The index of the closing quote when the quotation opening at ``i`` holds only words
    (of two letters or more, with punctuation and contractions); -1 otherwise."""
    words = prompt.words
    if i > 0 and words[i - 1] in _LITERAL_BEFORE:
        return -1
    end = _next_quote(words, i, i + 1)
    if words[i] == "'":  # an apostrophe inside ("you're") is glued to its word on both sides
        while 0 < end < len(words) - 1 and prompt.glued[end + 1] and words[end + 1].isalpha():
            end = _next_quote(words, i, end + 1)
    if end < 0:
        return -1  # no closing quote near: not a short quotation
    plain = [w for w in words[i + 1 : end] if w not in _QUOTE_PUNCTUATION]
    return end if plain and all(w.isalpha() and len(w) > 1 for w in plain) else -1


def _next_quote(words: tuple[str, ...], i: int, start: int) -> int:
    """The next quote like the one at ``i`` from ``start``, within the window, or -1."""
    stop = min(len(words), i + 1 + _QUOTE_WINDOW)
    return next((k for k in range(start, stop) if words[k] == words[i]), -1)


_QUOTE_WINDOW = 40  # words a quotation may hold
_QUOTE_PUNCTUATION = frozenset([",", ".", "!", "?", "-", "'", "s", "t", "re", "ll", "ve", "d", "m"])


def prose_semicolon(prompt: Tokens, i: int) -> bool:
    """ "it is getting tense; how do I raise it", "near kilometre 12; times from ...": a
    semicolon after a word or a number and before a word, spaced as prose spaces it (code
    has one after a call, or assignments around it whose "=" shows code anyway)."""
    words = prompt.words
    return (
        0 < i < len(words) - 1
        and prompt.glued[i]
        and not prompt.glued[i + 1]
        and words[i - 1].isalnum()
        and words[i + 1].isalpha()
    )


# Words that point at a text the prompt hands over ("classify this", "the following").
# Not "my"/"our": "classify my expenses" asks about a practice, it supplies nothing.
_HANDED_OVER = frozenset(["this", "these", "following", "below", "above", "attached", "given"])


def material_marker(prompt: Tokens, raw: str) -> str | None:
    """What shows the prompt hands over a text to work on: a pointing word ("this"), a
    colon with text after it, a quotation, a line break; or None."""
    words = prompt.words
    for i, tok in enumerate(words):
        if tok in _HANDED_OVER or tok == '"':
            return repr(tok)
        if tok == ":" and len(words) - i > 2:
            return "':'"
    if "\n" in raw.strip():
        return "a line break"
    return None


def capitals_marker(raw: str) -> str | None:
    """The first name in capitals ("'MATCH'"), unless the prompt shouts: when half of its
    words are in capitals, capitals say nothing."""
    shown = shown_text(raw)
    if shouting(shown):
        return None
    for m in SHOUTED.finditer(shown):
        if m.group() not in COMMON_CAPS:
            return repr(m.group())
    return None


def shown_text(raw: str) -> str:
    return raw if raw.isascii() else unicodedata.normalize("NFKC", raw)  # full-width capitals


def shouting(shown: str) -> bool:
    words = _LETTER_WORDS.findall(shown)
    return len(words) >= 3 and 2 * sum(1 for w in words if w.isupper()) >= len(words)


def snake_case_name(prompt: Tokens) -> str | None:
    """The first snake_case name in the prompt ("dose_mg"), or None: a column or a table of
    the user's own, as supplied as material is ("whats the avg dose_mg in trial_doses")."""
    return next(
        (w for w in prompt.words if "_" in w.strip("_") and w.replace("_", "").isalnum()), None
    )


def word_marker_only(tokens: Tokens, marker: str | None) -> bool:
    """The code marker is a programming word ("'scripts'") and nothing else in the prompt
    is code: no code symbol, no identifier."""
    if marker is None or marker[:1] != "'" or not marker[1:-1].isalpha():
        return False
    # quotes are no code: 'my VS Code terminal says "command not found" for node'
    return not any((w in CODE_SYMBOLS and w != '"') or "_" in w.strip("_") for w in tokens.words)
