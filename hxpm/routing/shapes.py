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

from hxpm.routing.identifiers import IDENTIFIER_QUERY, identifier_query
from hxpm.routing.markers import COMMON_CAPS, SHOUTED, shouting, shown_text
from hxpm.routing.text import Tokens

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
    # a type written with its colon in prose: "connected ... through :SUPPLIES"
    re.compile(r"(?:^|(?<=\s)):([A-Z][A-Z0-9_]{2,})(?![\w])"),
    # a type named as what joins nodes: "Broker and Shipment are nodes joined by CLEARED"
    # (not "connected via VPN": nodes are named first)
    re.compile(
        r"(?<![\w])nodes?\b[^.?!]{0,40}?\b(?:joined|connected|linked|related|tied)\s+"
        r"(?:by|via|through|with)\s+(?:an?\s+|the\s+)?([A-Z][A-Z0-9_]{2,})(?![\w])"
    ),
    # a verb in capitals after a label: "every Knitter who FOLLOWS the user", "each Designer
    # has PUBLISHED"; not an acronym ("which POS system"), nor emphasis after a name or a
    # plain noun ("my friend Sam who HATES queues", "our team that LOVES standups")
    re.compile(
        r"(?<![\w])(?i:every|each|all|any|which|what|the|a|an|no)\s+[A-Z][a-z]+\s+"
        r"(?:who|that|which|has|have|had)\s+([A-Z]{3,}(?:S|ED))(?![\w'])"
    ),
)

# Statements of one programming language, matched in the lower-cased prompt.
_CODE_SHAPES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (lang, label, re.compile(pattern))
    for lang, label, pattern in (
        ("python", "the import 'from ... import'", r"(?<![\w.])from\s+[a-z_][\w.]*\s+import\s+\w"),
        ("python", "the import 'import ... as'", r"(?<![\w.])import\s+[a-z_][\w.]*\s+as\s+\w"),
        # a query in lower case: "match customers who FOLLOW the brand ... and return their
        # names" (eleven requests in the routing sets, no general prompt; "match a wine to a
        # curry and return the best one" returns no field)
        (
            "cypher",
            "the clauses 'match ... return'",
            (
                r"^\s*match\s[^\n]{0,200}?\breturn\s+(?:[\w']+\s+){0,3}?"
                r"(?:names?|counts?|ids?|titles?|emails?|how\s+many)\b"
            ),
        ),
        ("rust", "the binding 'let mut'", r"(?<![\w.])let\s+mut\s+\w"),
        ("rust", "the borrow '&mut'", r"&mut\s"),
        ("rust", "the macro 'println!'", r"(?<![\w.])(?:println|vec|format)!"),
        ("rust", "the slice type '&[...]'", r"&\[\s*[a-z_][\w<>]*\s*\]"),
        ("rust", "the type '&str'", r"&str(?![\w])"),
        ("rust", "a generic type ('Vec<...>')", r"(?<![\w.])(?:vec|option|result|hashmap)<\w"),
        # "u32", "usize"; not "u8" or "u16", which name youth teams ("the u16 squad")
        ("rust", "an integer type ('u32')", r"(?<![\w.])[ui](?:32|64|128|size)(?![\w])"),
        # a JSON object's fields, bare: "extract {item, color, size} from ..."
        ("json", "the fields '{...}'", r"(?<![\w])\{\s*[a-z_]+\s*(?:,\s*[a-z_]+\s*)+\}"),
    )
)

# A node pattern with its label in capitals: "(:Ancestor {name: 'Paul'})", "(p:Person)".
# Case matters (a Python parameter is "(x: int)"), so this reads the prompt as written.
_NODE_PATTERN = re.compile(r"\(\s*[A-Za-z_]?\w*\s*:\s*[A-Z]\w*\s*[{)]")

# The words after which a snake_case name is a table: "from order_items", "join line_items".
_TABLE_BEFORE = frozenset(["from", "join"])
# ...unless it is a Python module ("from my_pkg import x") or a conversion ("from snake_case
# to camelCase").
_NOT_A_TABLE_AFTER = frozenset(["import", "to"])

LANGUAGES_WITH_SHAPES = frozenset([*_CLAUSES, *(lang for lang, _, _ in _CODE_SHAPES)])


def language_shapes(tokens: Tokens, raw: str) -> dict[str, str]:
    """Language -> the shape that shows it ("the clause 'MATCH'"), the first found of each."""
    shown = shown_text(raw)
    found: dict[str, str] = {}
    if shouting(shown):  # capitals say nothing in a prompt written in capitals
        shown = ""
    for m in _CLAUSE_RE.finditer(shown):
        clause = " ".join(m.group(1).split())
        if " " in clause or _starts_statement(shown, m.start(), m.end()):
            found.setdefault(_CLAUSE_LANGUAGE[clause], f"the clause {clause!r}")
    # IGNORECASE for "Relationship"; the type itself must be in capitals, checked here.
    names = (m.group(1) for pattern in _REL_TYPE_RES for m in pattern.finditer(shown))
    name = next((n for n in names if n.isupper() and n not in COMMON_CAPS), None)
    if name is not None:
        found.setdefault("cypher", f"the relationship type {name!r}")
    node = _NODE_PATTERN.search(raw)
    if node is not None:
        found.setdefault("cypher", f"the node pattern {' '.join(node.group().split())!r}")
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


# An aggregate per group, then the table last: "avg gpa per major from students pls".
_PER_GROUP = re.compile(
    r"(?<![\w.])(?i:avg|average|mean|total|sum|count|number|max|maximum|min|minimum)\b"
    r"[\w\s]{0,40}?\bper\s+[a-z_]\w*"
)
_FROM_TABLE_LAST = re.compile(
    r"(?<![\w.])(?i:from)\s+([a-z][a-z0-9_]*)\s*(?i:pls|please|plz|thanks)?\s*[?.!]?\s*$"
)
# A row put into a table: "insert a new row into drivers: ...", "insert into courses a ...",
# "insert new staff member into staff: ...".
_INSERT_INTO = re.compile(
    r"(?<![\w.])(?i:insert)\s+(?:[a-z]+\s+){0,3}(?i:into)\s+([a-z][a-z0-9_]*)(?![\w.(])"
)
# Places that are no table: "insert a row into excel", "insert a chart into word".
_NOT_TABLES_TO_FILL = frozenset(["excel", "word", "docs", "sheets", "powerpoint", "notion"])


def _query_phrasing(raw: str) -> str | None:
    """ "from employees ... grouped by department", "avg gpa per major from students",
    "insert a new row into drivers", or None."""
    insert = _INSERT_INTO.search(raw)
    if insert is not None and insert.group(1) not in _NOT_TABLES | _NOT_TABLES_TO_FILL:
        return " ".join(insert.group().split())
    per = _PER_GROUP.search(raw)
    last = _FROM_TABLE_LAST.search(raw)
    if per is not None and last is not None and last.group(1) not in _NOT_TABLES:
        return f"{' '.join(per.group().split())} ... from {last.group(1)}"
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
    return any(w not in COMMON_CAPS for w in SHOUTED.findall(shown, end))


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
