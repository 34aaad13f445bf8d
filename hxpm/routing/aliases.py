"""Names a publisher should not have to list: dialects, products and short names of a technology.

An expert whose keywords or capability values name a technology below ("sql", "python") also
matches that technology's aliases ("postgres", "py"), shown in ``--explain`` as
``matched keyword 'sql' as alias 'postgres'``. A manifest overrides an alias by listing it in
``exclude_keywords`` (then it is evidence *against* the expert, never for it).

Technology names (keywords that are also capability values in one of :data:`TECH_NAMESPACES`,
or a name below) also accept *word forms*: a version number glued on ("python3", "mysql8",
"json5") and the "-ify" family ("jsonify", "jsonified"). Other keywords do not: "classify"
must not read as "class" + "ify".
"""

from __future__ import annotations

import re

from hxpm.routing.variants import singular_of

# canonical name -> aliases, all written as users type them (tokenised like keywords).
ALIASES: dict[str, tuple[str, ...]] = {
    "sql": (
        "sequel",  # how SQL is said aloud ("gimme the sequel for ..."); a film's too
        "postgres",
        "postgresql",
        "psql",
        "mysql",
        "mariadb",
        "sqlite",
        "t-sql",
        "tsql",
        "mssql",
        "sql server",
        "pl/sql",
        "plsql",
        "oracle sql",
        "redshift",
        "bigquery",
        "snowflake sql",
        "duckdb",
    ),
    "cypher": ("neo4j", "opencypher", "memgraph", "graph database", "graph db"),
    # What users call a fixed-schema object when they do not say JSON.
    "json": (
        *("structured record", "structured records", "structured output"),
        *("structured version", "structured data", "structured object", "structured record"),
    ),
    "neo4j": ("cypher", "opencypher"),
    "python": (
        "py",
        "py3",
        "pythonic",
        "pythonista",
        "cpython",
        "pypy",
        # Libraries and tools nobody uses from another language.
        "pandas",
        "numpy",
        "django",
        "flask",
        "fastapi",
        "pytest",
        "matplotlib",
        "scipy",
        "jupyter",
        "seaborn",
        "sklearn",
        "scikit-learn",
        "pydantic",
        "virtualenv",
        "venv",
    ),
    "rust": (
        "rustlang",
        "rustc",
        "rustacean",
        "rustup",
        "rustfmt",
        "tokio",
        "serde",
        "clippy",
        "crates.io",
    ),
    "javascript": ("js", "node.js", "nodejs", "ecmascript", "npm", "apps script"),
    "typescript": ("ts",),
    "c++": ("cpp", "cxx"),
    "c#": ("csharp", "dotnet", ".net"),
    "go": ("golang",),
    "kotlin": ("kt",),
    "ruby": ("rb",),
    "yaml": ("yml",),
    "bash": ("shell script", "zsh"),
}

CLASSIFICATION_WORDS = (
    "classify",
    "classification",
    "classifier",
    "categorize",
    "categorization",
    "categorisation",
    "category",
)
# The sentence types, as a worksheet asks about them: "a statement or a question".
_SENTENCE_TYPES = ("statement", "question", "command", "exclamation", "instruction")


def _either_or() -> tuple[str, ...]:
    """ "statement or question", "statement or a question", ... for every two types."""
    out = []
    for a in _SENTENCE_TYPES:
        for b in _SENTENCE_TYPES:
            if a != b:
                article = "an" if b[0] in "aeiou" else "a"
                out += [f"{a} or {b}", f"{a} or {article} {b}"]
    return tuple(out)


SENTENCE_TYPE_WORDS = (
    "sentence type",
    *("declarative", "interrogative", "imperative", "exclamatory", "exclamative"),
    *_either_or(),
)

# Words for one task that users write interchangeably: an expert listing "classify" is asked
# "which category ..." too, one listing "sentence type" is asked "declarative or
# imperative?". Same rules as an alias (counts as its keyword, once; an excluded synonym is
# evidence against). Not technology names: no version or "-ify" word forms. Keys and
# synonyms are phrases as the tokenizer reads them (lower case, single spaces).
TASK_SYNONYMS: dict[str, tuple[str, ...]] = {
    word: tuple(w for w in group if w != word)
    for group in (CLASSIFICATION_WORDS, SENTENCE_TYPE_WORDS)
    for word in group
}

# Technology words that also have an everyday sense: "rust" on a bike chain, a pet "python",
# a kitchen "table", a "record" at the gym. Alone, with nothing technical in the prompt and a
# profile that does not recognise it, such a hit is weak evidence (scoring.py counts a fifth of it).
EVERYDAY_SENSES = frozenset(
    [
        "sequel",
        "rust",
        "python",
        "java",
        "ruby",
        "swift",
        "go",
        "shell",
        "table",
        "record",
        "row",
        "edge",
        "match",
        "order",
        "class",
        "select",
        "query",
        "relationship",
        "cypher",  # a cipher: "my grandson sent me a secret cypher"
        "sentence",
        "grammar",
        "english",
        "document",
        "cargo",
        "crate",
        "spark",
        "pandas",
        "flask",
        "node",
        "graph",
    ]
)

# Task words with an everyday sense: one classifies expenses, a hurricane has a category.
# They name the expert's task when the prompt hands over the material to work on ("classify
# this: ...", "which category is this message: ..."), not in a question about a practice
# ("how do I classify my expenses?"). scoring.py treats them as EVERYDAY_SENSES otherwise.
EVERYDAY_TASK_WORDS = frozenset(
    [
        # "the imperative for climate action", "declarative programming"
        "imperative",
        "declarative",
        "classify",
        "classification",
        "classifier",
        "categorize",
        "categorise",
        "categorization",
        "categorisation",
        "category",
    ]
)

TECH_NAMESPACES = frozenset(["tech", "language", "lang", "format", "query", "framework"])

_VERSION_SUFFIX = re.compile(r"^([a-z][a-z+#]{2,}?)(\d+(?:\.\d+)*)$")
_IFY_SUFFIXES = ("ifying", "ified", "ifies", "ify")


def aliases_of(name: str) -> tuple[str, ...]:
    """The aliases of a technology name (normalised lower-case), or ()."""
    return ALIASES.get(name, ())


def synonyms_of(word: str) -> tuple[str, ...]:
    """The other words for the task ``word`` names (normalised lower-case), or ()."""
    return TASK_SYNONYMS.get(word, ())


def has_everyday_sense(word: str, *, material: bool = False) -> bool:
    """True for "tables" as for "table": a plural keeps the everyday sense. With
    ``material`` (the prompt supplies a text to work on), task words have none."""
    singular = singular_of(word) or word
    if word in EVERYDAY_TASK_WORDS or singular in EVERYDAY_TASK_WORDS:
        return not material
    return word in EVERYDAY_SENSES or singular in EVERYDAY_SENSES


def is_tech_name(name: str, capability_values: frozenset[str]) -> bool:
    return name in ALIASES or name in capability_values


def base_of_word_form(token: str) -> tuple[str, str] | None:
    """("python", "version suffix") for "python3", ("json", "-ify form") for "jsonify"."""
    m = _VERSION_SUFFIX.match(token)
    if m:
        return m.group(1), "version suffix"
    for suffix in _IFY_SUFFIXES:
        stem = token.removesuffix(suffix)
        if stem != token and len(stem) >= 3:
            return stem, "-ify form"
    return None


def tech_capability_values(capabilities: tuple[str, ...]) -> frozenset[str]:
    """Capability values in technology namespaces: "tech:sql" -> "sql"."""
    values = set()
    for cap in capabilities:
        ns, sep, value = cap.partition(":")
        if sep and ns.strip().lower() in TECH_NAMESPACES and value.strip():
            values.add(value.strip().lower())
    return frozenset(values)
