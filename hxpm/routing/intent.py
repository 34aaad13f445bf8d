"""Questions *about* a technology versus requests *for* an expert's output (docs/routing.md,
"About, not for").

An expert trained to emit queries, functions or JSON objects answers every prompt with one.
A prompt that asks about the technology (its price, a choice between languages, a design in
prose) or that refuses the expert's output outright ("no SQL", "don't rewrite it") wants
prose, which the bare base writes better. Plain Python over the prompt's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.routing.artifacts import asks_for_artifact_at, phrase_at
from hxpm.routing.reasons import OPERATIONS_WORDS, asks_why
from hxpm.routing.rivals import RIVALS, weighs_two
from hxpm.routing.text import Tokens, outside_quotes

# Words that ask what a technology costs, not for something written in it.
# "price" and "cost" alone are columns too ("sort the rows by price"): only "how much ...
# cost" asks what the technology costs.
_PRICE_WORDS = frozenset(["pricing", "licence", "license", "licensing", "subscription"])
_PRICE_PHRASES = (("how", "much", "does"), ("how", "much", "do"))
_COST = frozenset(["cost", "costs"])
# Words that weigh one option against another, or ask for advice on learning one.
_CHOICE_WORDS = frozenset(
    [
        *("better", "worse", "versus", "vs", "recommend", "worth", "worthwhile", "choice"),
        *("overkill", "suitable", "sensible", "easier", "simpler", "harder", "useful"),
        *("career", "careers", "certification", "certifications"),
        # whether it is allowed: "could he get in legal trouble for that python script?"
        *("legal", "illegal", "legally", "lawful", "unlawful"),
        # "is that a misuse of a graph DB?"
        *("misuse", "misusing", "abuse"),
    ]
)
_PREFER = frozenset(["pick", "choose", "prefer", "picking", "choosing"])
_PREFER_WINDOW = 6
_CHOICE_PHRASES = (
    *(("should", "i", "learn"), ("should", "i", "choose"), ("should", "i", "use")),
    *(("good", "fit"), ("good", "enough"), ("good", "at"), ("good", "idea")),
    *(("more", "sense"), ("use", "it", "for"), ("when", "should", "i"), ("when", "should", "we")),
    *(("at", "what", "point"), ("support", "it")),
    # "Go or Node for a REST API, which would you pick?"
    *(("would", "you", "pick"), ("would", "you", "choose"), ("would", "you", "go", "with")),
    *(("would", "you", "use"), ("when", "would", "you"), ("when", "should", "a")),
    *(("when", "should", "you"), ("when", "should", "my"), ("when", "should", "our")),
    # "when does it make sense to use Neo4j?", "is it bad practice to store JSON in a column"
    *(("make", "sense"), ("makes", "sense"), ("bad", "practice"), ("good", "practice")),
    *(("best", "practice"), ("best", "practices"), ("bad", "idea")),
    # "is it reasonable to store a catalog in Neo4j?", "how bad is this really?", "who's right?"
    *(("is", "it", "reasonable"), ("how", "bad"), ("who", "is", "right")),
    ("who", "'", "s", "right"),
)
# "which jacket size should I order", "what category should I list mugs under": advice asked
# by a question word, at most this many words, then "should I/we".
_ADVICE_WINDOW = 3
# Words that ask what a concept is or means, how two compare, or where it comes from.
_CONCEPT_WORDS = frozenset(
    [
        *("difference", "differences", "differ", "differs", "different", "acronym"),
        "abbreviation",
        *("advantages", "disadvantages", "drawbacks", "pros", "history", "invented"),
        # how well it runs: "why is my Postgres query slow?" wants reasons, not a query
        *("slow", "slower", "faster", "performance", "efficient", "inefficient"),
        "meaning",  # "type 2 error meaning"
        # what it is good and bad at: "what can Neo4j do that a relational database struggles with?"
        *("differently", "struggle", "struggles", "strengths", "weaknesses", "limitations"),
        *("downsides", "tradeoffs", "trade-offs", "basically"),
        # how an optimiser works: "are CTEs an optimization fence in postgres still?"
        *("optimization", "optimisation", "optimizer", "optimiser"),
        # mathematics: "prove that every tree with n nodes has n-1 edges"
        *("prove", "proof", "theorem", "lemma"),
    ]
)
_CONCEPT_PHRASES = (
    *(("stand", "for"), ("stands", "for"), ("short", "for"), ("programming", "language")),
    *(("does", "it", "support"), ("compare", "to"), ("compare", "with"), ("compared", "to")),
    *(("in", "simple", "words"), ("conceptually",), ("same", "thing", "as")),
    *(("help", "me", "understand"),),
)
# A tool's own error is no expert's task: "vs code keeps saying python interpreter not found".
_TOOL_ERRORS = (
    *(("command", "not", "found"), ("interpreter", "not", "found"), ("not", "recognized", "as")),
    *(("modulenotfounderror",), ("importerror",), ("no", "module", "named")),
    *(("not", "recognised", "as"), ("is", "not", "installed"), ("module", "not", "found")),
)
# Setting a tool up is no expert's task: "how do I install cargo on windows?"
_SETUP_VERBS = frozenset(["install", "uninstall", "reinstall", "upgrade", "downgrade"])
_HOW_TO = (("how", "to"), ("how", "do", "i"), ("how", "can", "i"), ("how", "do", "you"))
# Connecting a tool to a store is setting it up too: "how do I connect Tableau to a Postgres
# database", "how do I connect to a MySQL database from PHP" (a relationship joins nodes
# "connected to" each other, never a database).
_CONNECT = frozenset(["connect", "link", "hook"])
_STORES = frozenset(["database", "databases", "db", "server", "instance", "cluster"])
_STORE_WINDOW = 6
# Prompts that ask about a concept without a question mark or a question word: "SQL vs
# NoSQL, explain like I'm five", "pros and cons of graph databases for a shop".
_EXPLAIN_WORDS = frozenset(["explain", "explained", "explanation", "eli5", "conceptually"])
# "explain to my boss what a schema is" asks for an explanation; "explain this cypher query"
# explains a piece of work the user has (docs/routing.md, "Why the generic rule has exceptions").
_HANDED = frozenset(["this", "these", "my", "our", "following", "it"])
_PROS_AND_CONS = ("pros", "and", "cons")
_WALK_THROUGH = ("walk", "me", "through")
# A review asks for an opinion in prose ("review this Rust for style"), unless it also asks
# for the thing rewritten ("review and fix my query").
_REVIEW_WORDS = frozenset(["review", "critique", "critic", "feedback"])
_REWORK_VERBS = frozenset(
    [
        *("fix", "rewrite", "refactor", "improve", "correct", "change", "convert", "optimise"),
        *("optimize", "update", "modify", "edit", "translate", "port", "write", "generate"),
    ]
)
# Nouns of an expert's kind of output: "no SQL", "without code", "not a query".
_OUTPUT_NOUNS = frozenset(
    [
        *("sql", "cypher", "code", "query", "queries", "json", "python", "rust", "script"),
        *("function", "functions", "snippet", "statement", "statements", "program"),
    ]
)
# Output nouns that name one language or format: refusing one leaves the others' experts.
_NAMED_OUTPUTS = frozenset(["sql", "cypher", "json", "python", "rust"])
_NEGATIONS = frozenset(["no", "without", "not"])
# Verbs of the output itself: "don't rewrite it", "do not write code".
_OUTPUT_VERBS = frozenset(["write", "rewrite", "change", "fix", "generate", "produce"])
_DONT = (("don", "'", "t"), ("don", "’", "t"), ("dont",), ("do", "not"), ("never",))
# ...of the whole thing: "don't rewrite it" refuses the output, "don't change its signature"
# is a constraint on an edit.
_WHOLE = frozenset(["it", "this", "them", "anything", "", ".", ",", "!"])
# Ways to ask for prose instead of an artifact.
_PROSE_PHRASES = (
    ("in", "prose"),
    ("in", "plain", "words"),
    ("in", "words"),  # "can you explain in words why a leading wildcard is slow?"
    ("in", "plain", "terms"),
    ("in", "plain", "english"),
    ("in", "simple", "terms"),
    ("just", "describe"),
    ("only", "describe"),
    ("style", "only"),
    ("opinions", "only"),  # "Rails vs Django, which is easier for a beginner? opinions only"
    ("opinion", "only"),
    ("in", "plain", "language"),
    ("into", "plain", "english"),  # "translate this error for me into plain english: ..."
    ("into", "plain", "language"),
    ("just", "explain"),  # "why would SELECT * FROM loans be slow? just explain the reasons"
    # an explanation of code, not more code: "explain what this python code does: [p for p
    # in pets if ...]" (not "line by line": "read a file line by line in Python")
    ("explain", "what"),
    ("only", "explain"),
    # the user writes the fix: "explain the risk, I'll fix it myself"
    ("fix", "it", "myself"),
    ("rewrite", "it", "myself"),
)
# Words between a negation and the output it refuses: "not looking for code".
_SEEKING = frozenset(["looking", "asking", "after", "needing", "for", "a", "an", "any"])
# ...and between "don't need"/"don't want" and it: "I don't need a rewritten query".
_NEEDING = frozenset(["need", "want"])
_REDONE = frozenset(["a", "an", "any", "the", "rewritten", "new", "fixed", "corrected", "better"])
# Rewriting refused as a gerund: "without rewriting it, explain why ... is slow".
_REWRITING = frozenset(["rewriting", "rewrite"])
_at = phrase_at


def _at_any(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    return any(_at(words, i, phrase) for i in range(len(words)))


@dataclass(frozen=True, slots=True)
class About:
    """The prompt asks about a technology: why, and the one output it refuses by name
    ("no SQL" refuses only what a SQL expert writes; None: every expert's output)."""

    reason: str
    only: str | None = None


def refused_output(tokens: Tokens) -> About | None:
    """An explicit refusal of an expert's output ("no SQL", "don't rewrite it", "in prose"),
    as the prompt words it, or None."""
    words = tokens.words
    for i, tok in enumerate(words):
        if tok in _NEGATIONS and i + 1 < len(words):
            k = i + 1
            while k < min(len(words) - 1, i + 4) and words[k] in _SEEKING:
                k += 1  # "not looking for code", "no sql"
            nxt = words[k]
            if nxt in _OUTPUT_NOUNS:
                only = nxt if nxt in _NAMED_OUTPUTS else None
                return About(f"it refuses the output ({tok + ' ' + nxt!r})", only)
            if tok == "without" and words[i + 1] in _REWRITING:
                return About(f"it refuses the output ({'without ' + words[i + 1]!r})")
        for dont in _DONT:
            refused = _refused_after(words, i, dont)
            if refused is not None:
                return About(f"it refuses the output ({refused!r})")
        for phrase in _PROSE_PHRASES:
            if _at(words, i, phrase):
                return About(f"it asks for prose ({' '.join(phrase)!r})")
    if _what_it_does(words):
        return About("it asks what a piece of code does ('what does ... do')")
    return _review(words)


_DOES_WINDOW = 16  # words between "what does" and its "do": a short piece of code
_POINTED = frozenset(["this", "that", "these", "those", "my", "our", "'", '"', "`"])


def _what_it_does(words: tuple[str, ...]) -> bool:
    """ "what does 'if __name__ == \\"__main__\\":' do in python?": "what does", a piece
    pointed at or quoted, then "do" before the question ends ("what does a decorator do" asks
    about a concept, :func:`about_request`)."""
    for i in range(len(words) - 3):
        if words[i] == "what" and words[i + 1] in ("does", "do") and words[i + 2] in _POINTED:
            rest = words[i + 3 : i + 3 + _DOES_WINDOW]
            if "do" in (rest[: rest.index("?")] if "?" in rest else rest):
                return True
    return False


def _refused_after(words: tuple[str, ...], i: int, dont: tuple[str, ...]) -> str | None:
    """The refusal as written when ``dont`` at ``words[i]`` refuses the whole output ("don't
    rewrite it", "don't need a rewritten query"), else None."""
    if not _at(words, i, dont):
        return None
    end = i + len(dont)
    nxt = words[end] if end < len(words) else ""
    if nxt in _OUTPUT_VERBS:
        after = words[end + 1] if end + 1 < len(words) else ""
        return " ".join((*dont, nxt, after)).strip() if after in _WHOLE else None
    if nxt in _NEEDING:
        k = end + 1
        while k < min(len(words) - 1, end + 4) and words[k] in _REDONE:
            k += 1
        if k < len(words) and words[k] in _OUTPUT_NOUNS:
            return " ".join((*dont, *words[end : k + 1]))
    return None


def _review(words: tuple[str, ...]) -> About | None:
    """A review in prose ("can you review this Rust for style and idioms?"), not a rewrite."""
    at = next((i for i, w in enumerate(words) if w in _REVIEW_WORDS), None)
    if at is None or any(w in _REWORK_VERBS for w in words):
        return None
    said = words[at]
    if at > 0 and words[at - 1] in _NEGATIONS:
        return None  # "just need the type, not feedback"
    return About(f"it asks for a review in prose ({said!r})")


def about_request(tokens: Tokens, code: bool, question: bool) -> About | None:
    """Why the prompt asks *about* a technology rather than for an expert's output, or None:
    a refusal of the output or a review in prose (always), or, in a question that shows no
    code or data and asks for no artifact, a word of price, of choice/advice or of a concept
    (a difference, what an acronym stands for)."""
    refused = refused_output(tokens)
    if refused is not None:
        return refused
    words = outside_quotes(tokens)  # a quoted text is material, not the question
    # A tool's own error, with or without a question or a "get" ("I get ModuleNotFoundError
    # ..."); often quoted: 'how do i fix "command not found"'
    every = tokens.words
    error = next((e for e in _TOOL_ERRORS for i in range(len(every)) if _at(every, i, e)), None)
    if error is not None and not code:
        return About(f"it reports a tool's error ({' '.join(error)!r})")
    why = asks_why(words) if question else None
    if why is not None:
        return About(f"it asks for reasons ({why!r})")
    # Code shown (not a technology's name: "is JSON or YAML better?" names two) or an
    # artifact asked for makes the price or choice word part of the task.
    if code or any(asks_for_artifact_at(words, i) for i in range(len(words))):
        return None
    explains = (
        _EXPLAIN_WORDS & set(words)
        or _at_any(words, ("help", "me", "understand"))
        or _at_any(words, _WALK_THROUGH)
    )
    if not (question or explains or _concept_framed(words)):
        return _names_versus(words)
    for i, tok in enumerate(words):
        if _asks_price(words, i):
            said = tok if tok in _PRICE_WORDS else " ".join(words[i : i + 2]) + " ... cost"
            return About(f"it asks about a price ({said!r})")
        if _asks_choice(words, i):
            return About(f"it asks for a choice or advice ({tok!r})")
        if _asks_concept(words, i):
            return About(f"it asks about a concept ({tok!r})")
    return None


def _asks_price(words: tuple[str, ...], i: int) -> bool:
    tok = words[i]
    return (
        tok in _PRICE_WORDS
        or _at(words, i, ("free", "tier"))
        or (tok == "free" and words[i + 1 : i + 2] in (("for",), ("to",), ("?",)))
        or (any(_at(words, i, p) for p in _PRICE_PHRASES) and bool(_COST & set(words[i:])))
    )


def _asks_choice(words: tuple[str, ...], i: int) -> bool:
    tok = words[i]
    return (
        tok in _CHOICE_WORDS
        or any(_at(words, i, p) for p in _CHOICE_PHRASES)
        or weighs_two(words, i, ("or",))  # "sql or nosql for storing results?"
        # "when would you choose a NoSQL database over a relational one?"
        or (tok in _PREFER and "over" in words[i + 1 : i + 1 + _PREFER_WINDOW])
        or (tok == "use" and words[-2:] == ("for", "?"))  # "what do teams use Neo4j for?"
        or (tok in ("which", "what") and _advice(words[i + 1 : i + 2 + _ADVICE_WINDOW]))
        # "should I render it as 'schema' or 'pattern'?"
        or (tok == "should" and words[i + 1 : i + 2] in (("i",), ("we",)) and "or" in words[i:])
    )


def _advice(words: tuple[str, ...]) -> bool:
    """ "should I" or "should we" among ``words``, after no output noun: "what query should
    I write" asks for the query."""
    for k in range(len(words)):
        if words[k] in _OUTPUT_NOUNS:
            return False
        if _at(words, k, ("should", "i")) or _at(words, k, ("should", "we")):
            return True
    return False


def _asks_concept(words: tuple[str, ...], i: int) -> bool:
    tok = words[i]
    return (
        tok in _CONCEPT_WORDS
        or (tok in OPERATIONS_WORDS and not _handed_over_before(words, i))
        or any(_at(words, i, p) for p in _CONCEPT_PHRASES)
        or (tok in ("explain", "explained") and not _HANDED.intersection(words[i + 1 : i + 2]))
        # "walk me through Dijkstra's algorithm on a small graph", not "... through this query"
        or (_at(words, i, _WALK_THROUGH) and not _HANDED.intersection(words[i + 3 : i + 4]))
        # "what does 'query' mean", "on a CV, what does 'a good command of English' mean?"
        or (tok == "mean" and "what" in words[:i] and ("does" in words[:i] or "do" in words[:i]))
        or (tok in _SETUP_VERBS and any(words[i - len(h) : i] == h for h in _HOW_TO))
        or (_at(words, i, ("set", "up")) and any(words[i - len(h) : i] == h for h in _HOW_TO))
        or (
            tok in _CONNECT
            and any(words[i - len(h) : i] == h for h in _HOW_TO)
            and not _STORES.isdisjoint(words[i + 1 : i + 1 + _STORE_WINDOW])
        )
    )


def _handed_over_before(words: tuple[str, ...], i: int) -> bool:
    """A colon before ``words[i]`` hands a text over ("classify: Backup failed on ..."),
    unless it only follows the name of a technology the question is about ("neo4j: what
    happens on disk when ...")."""
    colons = [k for k, w in enumerate(words[:i]) if w == ":"]
    if not colons:
        return False
    return colons != [1] or words[0] not in RIVALS


def _concept_framed(words: tuple[str, ...]) -> bool:
    """A concept asked without a question: "pros and cons of ...", "history of SQL, who
    invented it", "type 2 error meaning" (a concept word first or last)."""
    if not words:
        return False
    last = words[-2] if words[-1] in (".", "!") and len(words) > 1 else words[-1]
    first = words[0]
    return (
        _at(words, 0, _PROS_AND_CONS)
        or first in _CONCEPT_WORDS
        or first in OPERATIONS_WORDS  # "autovacuum can't keep up on one huge table, ..."
        or last in _CONCEPT_WORDS
    )


def _names_versus(words: tuple[str, ...]) -> About | None:
    """ "SQLite vs PostgreSQL for a hobby app", "postgres or mysql for a small app": two
    technologies weighed, with no question mark (a question is read by
    :func:`about_request` anyway)."""
    for i, tok in enumerate(words):
        if weighs_two(words, i, ("vs", "versus", "or")):
            return About(f"it asks for a choice or advice ({tok!r})")
    return None
