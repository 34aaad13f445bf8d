"""Prompt shapes that say more than their words (docs/routing.md, "Shapes").

- **Language shapes**: a query language shows itself without being named. A clause written
  in capitals (``MATCH``, ``GROUP BY``), a relationship type in capitals before
  "relationship"/"edge" (``a FRIEND relationship``), or a snake_case table after
  ``from``/``join`` (``from order_items``) is evidence for that language, counted like an
  alias of its name.

Requests whose text is the object, not the topic (editing, writing, converting), are read
in :mod:`hxpm.routing.requests`.

Plain Python, no I/O: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

import re
import unicodedata

from hxpm.routing.identifiers import IDENTIFIER_QUERY, identifier_query, named_table
from hxpm.routing.text import CODE_SYMBOLS, Tokens, is_word
from hxpm.routing.variants import Misspellings

# Clauses that belong to one query language only, as users write them in code: in capitals.
# Shared clauses (WHERE, RETURN, ORDER BY, CREATE, MERGE) say nothing about which language.
_CLAUSES: dict[str, tuple[str, ...]] = {
    "cypher": ("MATCH", "OPTIONAL MATCH", "UNWIND", "DETACH DELETE"),
    "sql": (
        "SELECT",
        "GROUP BY",
        "INSERT INTO",
        "DELETE FROM",
        "LEFT JOIN",
        "INNER JOIN",
        "CREATE TABLE",
        "ALTER TABLE",
    ),
}
_CLAUSE_RE = re.compile(
    r"(?<![\w])("
    + "|".join(c.replace(" ", r"\s+") for cs in _CLAUSES.values() for c in cs)
    + r")(?![\w])"
)
_NAMED_CLAUSE = re.compile(r"\s+(?:statements?|clauses?|quer(?:y|ies)|keywords?)\b", re.IGNORECASE)
_CLAUSE_LANGUAGE = {c: lang for lang, cs in _CLAUSES.items() for c in cs}

# A relationship type is written in capitals (KNOWS, ACTED_IN): "a FRIEND relationship",
# "edges of type LIKES". Only the property graph model names its edges that way.
_EDGE_WORDS = r"(?:relationships?|relations?|rels?|edges?)"
# A type named like a verb and its preposition (REPORTS_TO, ACTED_IN, WORKS_AT) or written
# in a pattern ("-[:KNOWS]->") is one in any position.
_PREPOSITIONS = "TO|IN|AT|OF|ON|BY|FOR|FROM|WITH|INTO|UNDER|OVER|ABOUT"
_REL_TYPE_RES = (
    re.compile(rf"(?<![\w])([A-Z][A-Z0-9_]+)\s+{_EDGE_WORDS}(?![\w])", re.IGNORECASE),
    re.compile(
        rf"(?<![\w]){_EDGE_WORDS}\s+(?:of\s+type|typed|labell?ed)\s+([A-Z][A-Z0-9_]+)(?![\w])",
        re.IGNORECASE,
    ),
    re.compile(rf"(?<![\w])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:{_PREPOSITIONS}))(?![\w])"),
    re.compile(r"-\[\s*\w*\s*:\s*([A-Z][A-Z0-9_]*)\s*[\]*|]"),
)

# Statements of one programming language, matched in the lower-cased prompt.
_CODE_SHAPES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (lang, label, re.compile(pattern))
    for lang, label, pattern in (
        ("python", "the import 'from ... import'", r"(?<![\w.])from\s+[a-z_][\w.]*\s+import\s+\w"),
        ("python", "the import 'import ... as'", r"(?<![\w.])import\s+[a-z_][\w.]*\s+as\s+\w"),
        ("rust", "the binding 'let mut'", r"(?<![\w.])let\s+mut\s+\w"),
        ("rust", "the borrow '&mut'", r"&mut\s"),
        ("rust", "the macro 'println!'", r"(?<![\w.])(?:println|vec|format)!"),
        # a JSON object's fields, bare: "extract {item, color, size} from ..."
        ("json", "the fields '{...}'", r"(?<![\w])\{\s*[a-z_]+\s*(?:,\s*[a-z_]+\s*)+\}"),
    )
)

# The words after which a snake_case name is a table: "from order_items", "join line_items".
_TABLE_BEFORE = frozenset(["from", "join"])
# ...unless it is a Python module ("from my_pkg import x") or a conversion ("from snake_case
# to camelCase").
_NOT_A_TABLE_AFTER = frozenset(["import", "to"])

LANGUAGES_WITH_SHAPES = frozenset([*_CLAUSES, *(lang for lang, _, _ in _CODE_SHAPES)])


def language_shapes(tokens: Tokens, raw: str) -> dict[str, str]:
    """Language -> the shape that shows it ("the clause 'MATCH'"), the first found of each."""
    shown = _shown(raw)
    found: dict[str, str] = {}
    if _shouting(shown):  # capitals say nothing in a prompt written in capitals
        shown = ""
    for m in _CLAUSE_RE.finditer(shown):
        clause = " ".join(m.group(1).split())
        if " " in clause or _starts_statement(shown, m.start(), m.end()):
            found.setdefault(_CLAUSE_LANGUAGE[clause], f"the clause {clause!r}")
    # IGNORECASE for "Relationship"; the type itself must be in capitals, checked here.
    names = (m.group(1) for pattern in _REL_TYPE_RES for m in pattern.finditer(shown))
    name = next((n for n in names if n.isupper() and n not in _COMMON_CAPS), None)
    if name is not None:
        found.setdefault("cypher", f"the relationship type {name!r}")
    lowered = shown.lower() if shown else raw.lower()
    for lang, label, pattern in _CODE_SHAPES:
        if lang not in found and pattern.search(lowered):
            found[lang] = label
    table = _table_name(tokens)
    if table is not None:
        found.setdefault("sql", f"the table name {table!r}")
    phrasing = _query_phrasing(raw)
    if phrasing is not None:
        found.setdefault("sql", f"the query phrasing {phrasing!r}")
    ident = None if found else identifier_query(raw)
    if ident is not None:
        found["sql"] = f"{IDENTIFIER_QUERY} {ident!r}"
    return found


# A query asked in lower case: "from <table>" with a filter or a grouping on a column
# ("... where age > 30 from people", "... from employees grouped by department"). The table
# is a bare lower-case word: "from London", "from my phone", "from the list" are not tables.
_FROM_TABLE = re.compile(r"(?<![\w.])(?i:from)\s+([a-z][a-z0-9_]*)(?![\w.(])")
_NOT_TABLES = frozenset(
    [
        "the",
        "a",
        "an",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "it",
        "them",
        "us",
        "me",
        "him",
        "you",
        "scratch",
        "home",
        "now",
        "then",
        "time",
        "work",
        "school",
        "memory",
    ]
)
_FILTER_OR_GROUP = re.compile(
    r"(?<![\w.])(?i:where)\s+[a-z_][\w.]*\s*(?:>=|<=|<>|!=|==|=|>|<)\s*[\w'\"]"
    r"|(?<![\w.])(?i:group(?:ed)?\s+by)\s+[a-z_]\w*"
)


def _query_phrasing(raw: str) -> str | None:
    """ "from employees ... grouped by department", or None."""
    clause = _FILTER_OR_GROUP.search(raw)
    if clause is None:
        return None
    for m in _FROM_TABLE.finditer(raw):
        if m.group(1) not in _NOT_TABLES:
            return f"from {m.group(1)} ... {' '.join(clause.group().split())}"
    return None


def _starts_statement(shown: str, start: int, end: int) -> bool:
    """A one-word clause is code when it starts the prompt, a line or a quote, or when
    another name in capitals follows ("MATCH ... RETURN"); not in "a great MATCH today"."""
    before = shown[:start].rstrip(" \t")
    if not before or before[-1] in "\n:`\"'(":
        return True
    if _NAMED_CLAUSE.match(shown, end):  # "the MATCH statement for ...": a clause, named
        return True
    return any(w not in _COMMON_CAPS for w in _SHOUTED.findall(shown, end))


def _table_name(tokens: Tokens) -> str | None:
    words = tokens.words
    for i in range(len(words) - 1):
        if words[i] not in _TABLE_BEFORE:
            continue
        name = words[i + 1]
        if "_" not in name.strip("_") or not any(ch.isalpha() for ch in name):
            continue
        after = words[i + 2] if i + 2 < len(words) else ""
        if after in _NOT_A_TABLE_AFTER or (after == "." and tokens.glued[i + 2]):
            continue  # a module, a conversion, a file name ("from data_2024.csv")
        return name
    return None


# --- technical prompts ---------------------------------------------------------------------

# An identifier in SHOUTING case ("MATCH", "ACTED_IN", "LIKES") is code or a schema name in
# a prompt; two letters at least, so that "I" and "A" do not count.
_SHOUTED = re.compile(r"\b[A-Z][A-Z0-9_]{1,}\b")
_COMMON_CAPS = frozenset(["OK", "US", "UK", "EU", "TV", "PM", "AM", "ID", "FAQ", "CEO"])
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
        if tok == ";" and _prose_semicolon(prompt, i):
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
    if named_table(raw) is not None:
        return "a table's name"  # "out of the parcels table"
    return QUOTED_WORDS if quoted else None


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


def _prose_semicolon(prompt: Tokens, i: int) -> bool:
    """ "it is getting tense; how do I raise it": a semicolon after a word and before a
    word, as prose has them (code has one after a value or a call: "x = 1; y = 2")."""
    words = prompt.words
    return (
        0 < i < len(words) - 1
        and prompt.glued[i]
        and not prompt.glued[i + 1]
        and words[i - 1].isalpha()
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
    shown = _shown(raw)
    if _shouting(shown):
        return None
    for m in _SHOUTED.finditer(shown):
        if m.group() not in _COMMON_CAPS:
            return repr(m.group())
    return None


def _shown(raw: str) -> str:
    return raw if raw.isascii() else unicodedata.normalize("NFKC", raw)  # full-width capitals


def _shouting(shown: str) -> bool:
    words = _LETTER_WORDS.findall(shown)
    return len(words) >= 3 and 2 * sum(1 for w in words if w.isupper()) >= len(words)
