"""Words that pick a keyword's everyday sense: "graph" next to "bar" or "axis" is a chart,
"python" next to "prey" is a snake (docs/routing.md, "Everyday senses").

A keyword with an everyday sense (aliases.EVERYDAY_SENSES) that is the only word hitting an
expert keeps its technical sense when the expert's profile recognises the rest of the prompt.
The profile cannot tell a chart of ticket sales "over the year" from a graph query (both
have dates), so a cue word of the everyday sense settles it first: then the profile does
not back the word. Cues are common English nouns and verbs that the technical sense does
not use; hxpm's own lists, kept small on purpose (a cue in a real request would hide the
expert: "remove" is no cue for rust, "Rust: remove duplicates from a Vec" is Rust).
"""

from __future__ import annotations

from hxpm.routing.text import Tokens
from hxpm.routing.variants import singular_of


def _cue_words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# everyday word -> words that show its everyday sense
_CUES: dict[str, frozenset[str]] = {
    "graph": _cue_words(
        """chart charts bar bars pie axis axes plot plotted presentation slide slides squared
        cubed curve parabola slope equation poster algorithm algorithms dijkstra vertex
        vertices adjacency bfs dfs"""
    ),
    "python": _cue_words(
        """snake snakes pet prey swallow swallows reptile reptiles bite vivarium terrarium
        zoo constrictor shed shedding mice monty sketch sketches comedy circus"""
    ),
    "rust": _cue_words(
        """bike car metal iron steel paint stain stains shears hinge hinges railing gutter
        corrosion oxidation vinegar sandpaper wheelbarrow tools fence orange"""
    ),
    "row": _cue_words(
        """seat seats seating boat rowing potatoes carrots plants seedlings knit knitting
        crochet stitches theatre theater cinema plane aircraft bus stadium flight attendant
        shelf shelves houses cottages vines chess"""
    ),
    "table": _cue_words(
        """dining chairs chair seating wedding guests restaurant furniture wood oak
        tablecloth kitchen coffee periodic multiplication textbook word powerpoint lease
        tenant appendix annex"""
    ),
    "sentence": _cue_words(
        """prison jail judge court convicted conviction parole subject predicate clause
        diagram diagramming tense tenses punctuation fragment music musical melody capitalise
        capitalize capitalised capitalized comma commas apostrophe apostrophes"""
    ),
    "english": _cue_words(
        """windows accent fluent exam course teacher grammar word words adjective adjectives
        verb verbs noun nouns plural spelling vocabulary idiom idioms meaning means
        dictionary pronunciation synonym synonyms mnemonic called whom usage modern archaic
        tense tenses"""
    ),
    "query": _cue_words("""council unanswered reply replied landlord polite politely complaint"""),
    # "category" (a task word) in its everyday sense: festivals, tax bands, shelves
    "category": _cue_words(
        """festival festivals award awards competition tax visa shelve shelf insurance
        vehicle truck olympic hurricane storm"""
    ),
    # Node.js, another technology: "VS Code terminal says node: command not found"
    "node": _cue_words(
        """npm nvm terminal installed install javascript typescript express algorithm
        algorithms dijkstra vertex vertices adjacency"""
    ),
    "cargo": _cue_words("""ship ships shipping freight container containers vessel hold port"""),
    "relationship": _cue_words(
        """grandparents parents married marriage couple couples partner boyfriend girlfriend
        husband wife dating friendship siblings portrait"""
    ),
    "record": _cue_words(
        """criminal police paper notebook vinyl album albums world olympic dental diary
        diaries guinness"""
    ),
    "cypher": _cue_words(
        """secret message messages decode decoded decipher crack cracked spy spies encrypt
        encrypted treasure"""
    ),
}
# Everyday senses too rare to assume: the word is read in its everyday sense only when a cue
# shows it ("a secret cypher: 'Jrrg pruqlqj'"), never merely because nothing else is
# technical ("cypher for contestants who appeared in the same episode as 'Mavis Orr'").
CUED_ONLY = frozenset(["cypher"])


# Idioms that use the word in its everyday sense: "three lectures in a row".
_IDIOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("row", ("in", "a", "row")),
    ("order", ("in", "what", "order")),  # "in what order should I apply skincare products"
    ("table", ("table", "of", "contents")),
    # a table in a document or a spreadsheet: "tidy up this markdown table: | name | role |"
    ("table", ("markdown", "table")),
    ("table", ("html", "table")),
    ("table", ("latex", "table")),
    ("table", ("pivot", "table")),
    ("graph", ("graph", "paper")),  # "sketch a veg bed layout on graph paper"
)


def cued_senses(tokens: Tokens) -> dict[str, str]:
    """Everyday word of the prompt (singular) -> the first word that shows its everyday sense
    (or the idiom it is part of)."""
    words = tokens.words
    found: dict[str, str] = {}
    for word, idiom in _IDIOMS:
        if word not in found and any(words[i : i + len(idiom)] == idiom for i in range(len(words))):
            found[word] = " ".join(idiom)
    for w in dict.fromkeys(words):
        word = w if w in _CUES else (singular_of(w) or w)
        cues = _CUES.get(word)
        if cues is not None and word not in found:
            cue = next((c for c in words if c in cues), None)
            if cue is not None:
                found[word] = cue
    return found


# Words of a maths problem: "find the derivative of the function f(x) = x^2 sin x" asks for
# calculus, not code, though `f(x)` looks like a call and a code expert's profile knows
# "function" and "find".
_MATHS = frozenset(
    [
        *("derivative", "derivatives", "differentiate", "integral", "integrals", "asymptote"),
        *("asymptotes", "calculus", "polynomial", "quadratic", "parabola", "trigonometry"),
        *("logarithm", "hypotenuse", "antiderivative", "injective", "surjective", "bijective"),
        "inverse",
    ]
)


def maths_cue(tokens: Tokens) -> str | None:
    """The first word of a maths problem in the prompt ("derivative", "domain of"), or an
    equation in x ("graph y = 2x + 3 by hand"), or None."""
    words = tokens.words
    for i, w in enumerate(words):
        if w in _MATHS:
            return w
        if w == "domain" and words[i + 1 : i + 4] in (("of", "a", "function"), ("of", "f", "(")):
            return "domain of a function"
        if w == "domain" and words[i + 1 : i + 3] == ("and", "range"):
            return "domain and range"
        if w in ("y", ")") and words[i + 1 : i + 2] == ("=",) and _in_x(words[i + 2 : i + 5]):
            return "an equation in x"  # "y = 2x + 3", "f(x) = x^2"
        if w in ("x", "y") and words[i + 1 : i + 2] in (("value",), ("values",), ("axis",)):
            return f"{w} {words[i + 1]}"  # "one x value gives two y values"
    return None


def _in_x(words: tuple[str, ...]) -> bool:
    """ "x", "2x", "3x" among the first terms of an equation's right-hand side."""
    return any(w == "x" or (w.endswith("x") and w[:-1].isdigit()) for w in words)
