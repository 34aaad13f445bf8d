"""Technologies weighed against each other: "SQLite vs Postgres", "sql or nosql", "ORM or raw
SQL" ask for a choice, not for code in either (docs/routing.md, "About, not for:
questions about a technology")."""

from __future__ import annotations

from hxpm.routing.aliases import ALIASES
from hxpm.routing.languages import LANGUAGE_NAMES

# What one technology is weighed against: another one's name or a kind of store.
RIVALS = frozenset(
    [
        *ALIASES,
        *(a for names in ALIASES.values() for a in names if " " not in a),
        *("nosql", "relational", "spreadsheet", "spreadsheets", "excel", "csv", "database"),
        *("airtable", "notion", "access", "sheets"),
        # database products no demo expert writes: "postgres or mongodb for a small blog?"
        *("mongodb", "mongo", "redis", "cassandra", "dynamodb", "firebase", "firestore"),
        *("supabase", "elasticsearch", "couchdb", "snowflake", "bigquery", "duckdb"),
        *LANGUAGE_NAMES,
        # frameworks weighed like languages: "Ruby on Rails or Django for an MVP?"
        *("rails", "django", "flask", "laravel", "spring", "express", "react", "vue"),
        *("angular", "svelte", "fastapi", "nextjs", "dotnet"),
        # "ORM or raw SQL, go"
        *("orm", "orms", "sqlalchemy", "prisma", "hibernate"),
    ]
)


_RIVAL_FILLERS = frozenset(
    ["a", "an", "the", "proper", "real", "normal", "plain", "just", "raw", "hand-written"]
)


def weighs_two(words: tuple[str, ...], i: int, between: tuple[str, ...]) -> bool:
    """``words[i]`` stands between two technologies: "SQLite vs Postgres", "sql or nosql",
    "Airtable or a proper database"."""
    if not (0 < i < len(words) - 1 and words[i] in between and words[i - 1] in RIVALS):
        return False
    after = [w for w in words[i + 1 : i + 4] if w not in _RIVAL_FILLERS]
    return bool(after) and after[0] in RIVALS
