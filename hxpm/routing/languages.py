"""Languages a prompt names that may have no installed expert (docs/routing.md, "A language
no installed expert writes", "Translation requests").

- **Programming languages**: "Write a Java method that ..." names Java. An expert that writes
  another language (Rust, Python) is not asked merely because the request uses generic
  coding words its training prompts share ("string", "check whether"): the base answers.
- **Natural languages**: "Translate this sentence into French" names French; with a verb of
  translation, or a pair ("german to english: ..."), it makes the prompt a translation
  request (:func:`translation_request`; requests.py says which experts claim translating).

Plain Python, no I/O: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

import itertools

from hxpm.routing.aliases import ALIASES, has_everyday_sense
from hxpm.routing.text import Tokens, is_word, matches_at, tokenize

# Programming languages users name, with the other names they type for them. The router's
# own alias table adds its names (js, golang, csharp, ...).
_PROGRAMMING: dict[str, tuple[str, ...]] = {
    "java": (),
    "javascript": (),
    "typescript": (),
    "go": (),
    "c": (),
    "c++": (),
    "c#": (),
    "kotlin": (),
    "php": ("pdo",),  # "connect to MySQL from PHP using PDO"
    # R by its libraries; "r" alone is a letter
    "r": ("dplyr", "tidyverse", "ggplot2", "tidyr", "rstudio"),
    "ruby": (),
    "swift": (),
    "scala": (),
    "haskell": (),
    "perl": (),
    "lua": (),
    "dart": (),
    "elixir": (),
    "erlang": (),
    "clojure": (),
    "ocaml": (),
    "f#": ("fsharp",),
    "fortran": (),
    "cobol": (),
    "julia": (),
    "zig": (),
    "groovy": (),
    "objective-c": ("objc",),
    "visual basic": ("vba", "vb.net"),
    "matlab": (),
    "powershell": ("pwsh",),
    "solidity": (),
    "verilog": (),
    "vhdl": (),
    "pascal": ("delphi",),
    "lisp": (),
    "prolog": (),
    "abap": (),
    "tcl": (),
    "awk": (),
    # other query languages: "a SPARQL query listing every book whose dc:creator is 'Woolf'"
    "sparql": (),
    "graphql": (),
    "xpath": (),
    "xquery": (),
    "python": (),
    "rust": (),
    "sql": (),
    "bash": (),
    "css": ("scss", "sass"),
    # Spreadsheet formulas are code in a language of their own: "Excel formula to flag any
    # row where ..." is not SQL. Two words each: "excel" alone is a verb.
    # Tools whose tables, records and lookups are set up in the tool, not written in SQL:
    # "make an Airtable linked record field show the department", "Excel pivot table".
    "no-code tool": (
        *("airtable", "notion database", "notion databases", "power bi", "tableau"),
        *("power automate", "pivot table", "pivot tables", "conditional formatting"),
        *("sharepoint list", "sharepoint lists", "power apps", "looker studio"),
    ),
    "spreadsheet formula": (
        *("spreadsheet formulas", "excel formula", "excel formulas", "sheets formula"),
        *("sheets formulas", "google sheets", "vlookup", "xlookup", "power query", "dax"),
    ),
}
# One-word language names, and the runtimes users weigh them by ("Go or Node?"): what a
# choice question weighs (intent.py).
LANGUAGE_NAMES = frozenset(
    [*(n for n in _PROGRAMMING if " " not in n and len(n) > 1), "node", "nodejs", "deno"]
)
# Names that are everyday words too ("a cup of java", "go home", "plan c", besides those of
# aliases.EVERYDAY_SENSES): they name the language only in a prompt that shows code or data
# (markers.code_marker), as "python" does.
_EVERYDAY_NAMES = frozenset(
    ["c", "r", "dart", "julia", "groovy", "perl", "elixir", "pascal", "lisp", "delphi"]
)
# A word after the name makes any of them a language ("a C program", "a Go function", "Go's
# channels"); in a prompt with code, "in"/"using" before it does too ("in C"). The shortest
# need one of the two: "a function to go through a list" names no language.
_BARE_NAMES = frozenset(["go", "c", "r"])
_NAME_BEFORE = frozenset(
    [
        *("function", "functions", "method", "methods", "program", "programs", "code"),
        *("script", "snippet", "struct", "structs", "class", "classes", "module", "package"),
        *("library", "compiler", "implementation", "version", "equivalent", "developer"),
        *("programmer", "routine", "file", "files", "source", "project", "app", "'", "ui"),
        *("oneliner", "oneliners"),
    ]
)
_NAME_AFTER = frozenset(["in", "using", "into", "to", "idiomatic", "pure", "modern"])


def _programming_index() -> dict[str, list[tuple[str, str, Tokens]]]:
    index: dict[str, list[tuple[str, str, Tokens]]] = {}
    for name, others in _PROGRAMMING.items():
        for spelling in dict.fromkeys((name, *others, *ALIASES.get(name, ()))):
            tokens = tokenize(spelling)
            index.setdefault(tokens.words[0], []).append((name, spelling, tokens))
    return index


_INDEX = _programming_index()


def programming_languages(tokens: Tokens, code: bool) -> dict[str, str]:
    """Language -> the word that names it ("java": "java"), for every programming language
    the prompt names; an everyday name only when ``code`` (the prompt shows code or data)."""
    found: dict[str, str] = {}
    words = tokens.words
    for i, tok in enumerate(words):
        for name, spelling, form in _INDEX.get(tok, ()):
            if name in found or not matches_at(tokens, i, form.words, form.glued):
                continue
            if len(form.words) == 1 and _not_a_name(tokens, i, code):
                continue
            found[name] = spelling
    return found


_TARGET_BEFORE = frozenset(["in", "into", "to"])
_HOW_WHAT = (("how",), ("what",), ("what's",), ("which",), ("why",), ("can",), ("is",))
_HEADING_WORDS = 3  # "plain python please: reverse the words": a heading is this short
# Nouns of a piece of code: the word just before one names a language ("a pythn fn", "rust
# script"), whatever its everyday sense.
_CODE_NOUNS = frozenset(
    [
        *("function", "functions", "fn", "method", "methods", "script", "snippet", "program"),
        *("code", "class", "module", "one-liner", "oneliner", "lambda", "query", "queries"),
        *("helper", "helpers", "routine", "utility", "ui", "gui", "interface", "type"),
        *("enum", "types"),
    ]
)


# Words only code uses: one makes a prompt technical, so a language named in it is meant
# ("python celsius to kelvin func", "using pandas, drop the rows of df where humidity is NaN").
_CODE_ONLY_WORDS = frozenset(
    [
        *("func", "funcs", "fn", "df", "dataframe", "dataframes", "nan", "dict", "dicts"),
        *("struct", "structs", "vec", "impl", "stdin", "stdout", "kwargs", "bool", "tuple"),
        "tuples",
    ]
)


def uses_code_words(tokens: Tokens) -> bool:
    """Whether the prompt uses a word only code uses ("func", "df", "NaN", "dict")."""
    return not _CODE_ONLY_WORDS.isdisjoint(tokens.words)


def named_as_language(tokens: Tokens) -> tuple[frozenset[str], frozenset[str]]:
    """Words the prompt uses as a language's name by their place: (before a code noun, a
    heading or a last "in X"). "pythn fn to dedupe a list", "rust: grams to moles", "knots
    to km/h in python": an everyday word ("rust", "python") there is not meant in its
    everyday sense. Only the first kind makes the prompt technical: "Rust: how do I get it
    off my bike chain?" is still about a bike."""
    words = tokens.words
    colon = words.index(":") if ":" in words[: _HEADING_WORDS + 1] else -1
    heading = frozenset(words[:colon]) if 0 < colon < len(words) - 1 else frozenset()
    before = frozenset(w for w, nxt in itertools.pairwise(words) if nxt in _CODE_NOUNS)
    # "knots to km/h in python": the answer's language, last, after "in" or "using"
    end = len(words)
    while end > 0 and words[end - 1] in (".", "?", "!", "please", "pls"):
        end -= 1
    if end >= 2 and words[end - 2] in ("in", "using"):
        heading = heading | {words[end - 1]}
    # "in python, how do I merge two dicts?": a language named first, before a comma and a
    # question ("in python, run a sqlite query ..." may still want the query)
    if words[:1] == ("in",) and words[2:3] == (",",) and words[3:4] in _HOW_WHAT:
        heading = heading | {words[1]}
    return before, heading


def target_language(tokens: Tokens, named: dict[str, str]) -> str | None:
    """The language the answer is asked in when the prompt names another one first: "the
    equivalent of a Python list comprehension in JavaScript" asks for JavaScript; the
    earlier language is what the request starts from. A language named as the prompt's
    heading ("PHP: ...") is the answer's too."""
    if len(named) < 2:
        return None
    words = tokens.words
    heads = {lang: tokenize(word).words[:1] for lang, word in named.items()}
    first: dict[str, int] = {}
    for i, tok in enumerate(words):
        for lang, head in heads.items():
            if lang not in first and (tok,) == head:
                first[lang] = i
    for lang, i in sorted(first.items(), key=lambda kv: -kv[1]):
        if i > 0 and words[i - 1] in _TARGET_BEFORE and any(j < i for j in first.values()):
            return lang
    # "PHP: how do I stop SQL injection ...": a heading names the answer's language
    heading = next((lang for lang, i in first.items() if i == 0 and words[1:2] == (":",)), None)
    return heading


def _not_a_name(tokens: Tokens, i: int, code: bool) -> bool:
    word = tokens.words[i]
    if word not in _EVERYDAY_NAMES and not has_everyday_sense(word):
        return False
    after = tokens.words[i + 1] if i + 1 < len(tokens.words) else ""
    if i == 0 and after == ":":
        return False  # "Go: how do I read a file?": a heading names the language
    if after == "'" and tokens.words[i + 2 : i + 3] != ("s",):
        return True  # a quoted letter ("deck is 'C'"), not "Go's channels"
    if after in _NAME_BEFORE or (after == "one" and "liner" in tokens.words[i + 2 : i + 4]):
        return False  # "a C program", "ruby one liner": the next words make it a language
    if not code:
        return True
    before = tokens.words[i - 1] if i > 0 else ""
    if before == "to" and after.isalpha():
        return True  # "a function to go through a list"; "convert this to Go: ..." names it
    return word in _BARE_NAMES and before not in _NAME_AFTER


# Natural languages a translation aims at or comes from.
NATURAL_LANGUAGES = frozenset(
    [
        *("english", "french", "spanish", "german", "italian", "portuguese", "dutch"),
        *("russian", "chinese", "mandarin", "cantonese", "japanese", "korean", "arabic"),
        *("hindi", "urdu", "bengali", "turkish", "polish", "swedish", "norwegian", "danish"),
        *("finnish", "greek", "hebrew", "latin", "czech", "hungarian", "romanian"),
        *("ukrainian", "vietnamese", "thai", "indonesian", "malay", "swahili", "persian"),
        *("farsi", "tagalog", "irish", "welsh", "catalan", "esperanto", "icelandic"),
    ]
)


def natural_language(tokens: Tokens) -> str | None:
    """The first natural language the prompt names ("french"), or None."""
    return next((w for w in tokens.words if w in NATURAL_LANGUAGES and is_word(w)), None)


# --- translation requests ----------------------------------------------------------------------

_TRANSLATE_WORDS = frozenset(
    ["translate", "translates", "translated", "translating", "translation", "translations"]
)
_SAY = (("how", "do", "i", "say"), ("how", "do", "you", "say"), ("how", "to", "say"))


def _at_phrase(words: tuple[str, ...], i: int, phrases: tuple[tuple[str, ...], ...]) -> bool:
    return any(words[i : i + len(p)] == p for p in phrases)


def translation_request(tokens: Tokens) -> str | None:
    """ "translate ... french": a word of translation and a natural language the prompt
    names (languages.py), or None ("how does this translate to sales" names none)."""
    words = tokens.words
    verb = next((w for w in words if w in _TRANSLATE_WORDS), None)
    if verb is None and any(_at_phrase(words, i, _SAY) for i in range(min(3, len(words)))):
        verb = "say"  # "how do I say 'I am looking for records' in Polish"
    pair = _language_pair(words)
    if verb is None and pair is not None:
        return pair  # "german to english: Was mich nicht umbringt ..."
    if verb is None:
        return None
    language = natural_language(tokens)
    return f"{verb} ... {language}" if language is not None else None


def _language_pair(words: tuple[str, ...]) -> str | None:
    """ "german to english" at the start of the prompt (before a colon, a dash or the text):
    two natural languages with "to" or "into" between them ask for a translation."""
    head = words[:4]
    for i in range(len(head) - 2):
        if (
            head[i] in NATURAL_LANGUAGES
            and head[i + 1] in ("to", "into", "->")
            and head[i + 2] in NATURAL_LANGUAGES
        ):
            return " ".join(head[i : i + 3])
    return None
