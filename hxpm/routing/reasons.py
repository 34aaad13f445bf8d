"""Questions that want reasons, not an expert's output (docs/routing.md, "After general27"
and "After general28"): one that opens with "why" or asks how other people cope, one that
pastes a named error or a tool's labelled one ("dbt error: ..."), and the words of running
a database rather than querying it. Experts that write code or data from a description
cannot explain a behaviour or an error; the bare base model can."""

from __future__ import annotations

from hxpm.routing.text import Tokens

# Running a database, not querying it: "which settings should I look at when autovacuum
# can't keep up?", "how do I tell whether it is CPU-bound?". Read before any text handed over
# after a colon: a bug report to classify mentions backups and upgrades too.
OPERATIONS_WORDS = frozenset(
    [
        *("downtime", "replication", "autovacuum", "vacuum", "failover", "cpu"),
        *("migrating", "migration", "migrations", "migrate", "config", "configuration"),
        *("upgrade", "backup", "backups", "encryption", "encrypted", "replica", "replicas"),
        # keeping it fast and whole: "pooling via deadpool is on. what could add that latency?"
        # (not "repair" or "crashed": an invoice for a handset repair, a bug report)
        *("corruption", "corrupted", "binlog", "wal", "checkpoint", "checkpoints", "pooling"),
        *("pgbouncer", "deadlock", "deadlocks", "latency", "bloat", "tuning", "sharding"),
        # "do I need to restart Postgres after ...", "partitioning, archiving, or ...?"
        *("restart", "restarting", "reload", "partitioning", "archiving", "disk"),
    ]
)

_TOPIC_WINDOW = 4  # words of a topic before its colon: "pandas: why does df[5] fail"
# People asking how others cope: "how do people debug these", "do people just allow it?"
_PEOPLE = frozenset(["people", "teams", "folks", "anyone", "everyone", "others", "companies"])
_HEDGES = frozenset(["just", "really", "actually", "usually"])
# Marks before a "why" that goes on with the user's own sentence (a colon or a question mark
# may hand a sentence over: "sentence type: Why is the cafeteria closed?")
_CLAUSE_MARKS = frozenset([",", "-", "\u2013", "\u2014"])
_AUXILIARIES = frozenset(
    [
        *("does", "do", "did", "is", "are", "was", "were", "would", "can", "could", "should"),
        *("doesn", "don", "didn", "isn", "aren", "wasn", "won", "can't", "cannot", "has", "have"),
    ]
)


def asks_why(words: tuple[str, ...]) -> str | None:
    """The question opens with "why" ("why does my numpy array print in scientific
    notation?", "pandas: why does df.loc[5] work but df[5] throws KeyError"), or a clause
    of it does ("..., why does it exclude NULL rows?"), or asks how
    other people do it ("how do people handle that in CI"): it wants reasons or experience,
    not an expert's output. None when a text is handed over to it (a sentence to label opens
    with "why" too: "why are the seals out? <- question or statement?")."""
    if {"<-", "->", "<", ">"} & set(words):
        return None
    start = 0
    if ":" in words[1 : _TOPIC_WINDOW + 1]:
        start = words.index(":", 1) + 1
    if words[start : start + 1] == ("why",):
        return "why"
    for i in range(1, len(words) - 1):
        # a later clause that asks why: "this query: SELECT ... — why does it exclude rows",
        # "In Rust, why does `let y = x;` fail"
        if words[i] == "why" and words[i - 1] in _CLAUSE_MARKS and words[i + 1] in _AUXILIARIES:
            return "why"
    for i in range(len(words) - 2):
        asks_people = words[i] in ("do", "does", "would") and words[i + 1] in _PEOPLE
        # "how do people ...", "do people ..." opening the prompt, "do people just ..."
        opens = words[i - 1 : i] in (("how",), ()) or words[i + 2] in _HEDGES
        if asks_people and opens:
            return " ".join(words[max(0, i - 1) : i + 2])
    return None


_ERROR_SUFFIXES = ("error", "exception")
_ERROR_CODE_WINDOW = 3  # "error [ e0597 ]": the code within this many words of "error"


def reported_error(tokens: Tokens) -> str | None:
    """A named error the prompt pastes: an exception's name before a colon or a bracket
    ("KeyError: 'Temperature '", "sqlite3.OperationalError: database is locked"), or a
    compiler's error code ("error[E0597]: `line` does not live long enough"); else None.
    The router sets it aside when code is asked for ("write a python function that raises
    ValueError when ...")."""
    words = tokens.words
    for i, w in enumerate(words):
        named = len(w) > len("error") + 2 and w.endswith(_ERROR_SUFFIXES) and w.isalnum()
        pasted = named and words[i + 1 : i + 2] in ((":",), ("(",))
        coded = w == "error" and any(
            len(c) > 1 and c[0] == "e" and c[1:].isdigit()
            for c in words[i + 1 : i + 1 + _ERROR_CODE_WINDOW]
        )
        if pasted or coded:
            return w if pasted else "error[...]"
        if _labelled_error(words, i):
            return f"{words[i - 1]} {w}"
    return None


# Words before "error:" that make it any error, not a named one: "it throws an error: def ..."
_UNNAMED = frozenset(["a", "an", "the", "this", "that", "my", "some", "any", "same", "with"])


def _labelled_error(words: tuple[str, ...], i: int) -> bool:
    """A tool's error pasted under its label: "dbt error: ...", "SQL compilation error: ...",
    "Data source error: ..." (a named kind of error, then a colon)."""
    return (
        words[i] in ("error", "exception")
        and i > 0
        and words[i - 1].isalpha()
        and words[i - 1] not in _UNNAMED
        and words[i + 1 : i + 2] == (":",)
    )
