"""What a prompt asks to be made (docs/routing.md, "About, not for", "The answer's language"):
an artifact ("write a query", "give me the object"), data written out, or an answer in a
data format ("as CSV", "a JSON object"). Verbs that only look like such requests ask for
nothing made: a passive "get invented", "make lookups faster", "give me pros and cons".

Plain Python over the prompt's tokens: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

from hxpm.routing.text import CODE_SYMBOLS, Tokens


def phrase_at(words: tuple[str, ...], i: int, phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` starts at ``words[i]``."""
    return words[i : i + len(phrase)] == phrase


# Verbs that ask for an artifact: with one of them (and no refusal) a price or choice word is
# part of the task ("write a query for the price of each order").
_ARTIFACT_VERBS = frozenset(
    [
        *("write", "generate", "create", "give", "show", "build", "make", "return", "list"),
        *("get", "draft"),
    ]
)


# Verbs that ask for data written out: "can you output it as item, color and size?" is a
# request, whatever its question mark.
_DATA_VERBS = frozenset(
    ["output", "format", "convert", "encode", "generate", "write", "create", "produce"]
)


# "can you give me the item/color/size object for it?": giving asks for data when what is
# given is a piece of data, named within a few words.
_GIVE = frozenset(["give", "send"])
_DATA_NOUNS = frozenset(["object", "data", "record", "entry", "json", "payload"])
_GIVE_WINDOW = 8


def asks_for_data(tokens: Tokens) -> bool:
    """Whether the prompt asks for something written out: a verb of _DATA_VERBS, or "give"
    with a data noun ("object", "data") in the next few words."""
    words = tokens.words
    for i, w in enumerate(words):
        if w in _DATA_VERBS:
            return True
        if w in _GIVE and _DATA_NOUNS.intersection(words[i + 1 : i + 1 + _GIVE_WINDOW]):
            return True
    return False


def asks_for_artifact(tokens: Tokens) -> bool:
    """Whether the prompt asks for something made: an artifact verb ("write", "give"), as
    :func:`intent.about_request` reads them (code symbols aside: maths has "=" too)."""
    return _first_artifact_verb(tokens.words) is not None


def _first_artifact_verb(words: tuple[str, ...]) -> int | None:
    """Where the first artifact verb that asks for something made stands, or None."""
    return next(
        (i for i, w in enumerate(words) if w in _ARTIFACT_VERBS and asks_for_artifact_at(words, i)),
        None,
    )


_COMPARATIVES = frozenset(
    [
        *("faster", "slower", "quicker", "easier", "harder", "better", "worse", "clearer"),
        *("shorter", "longer", "simpler", "smaller", "bigger", "nicer", "tighter", "stronger"),
        *("sharper", "cleaner", "more", "less"),
    ]
)


def _comparative(word: str) -> bool:
    """ "faster", "more", "punchier": what "make" turns its object into."""
    return word in _COMPARATIVES or (len(word) > 5 and word.endswith("ier"))


_MAKE_WINDOW = 5  # "make the service \"10x faster\"": a quote mark is a token
_PROSE_OBJECTS = frozenset(
    [*("pros", "tips", "advice", "ideas", "reasons", "suggestions", "recommendations"), "overview"]
)
_NOTHING_GOT = frozenset(
    [
        *("better", "worse", "rid", "used", "started", "hired", "promoted", "if", "when"),
        # "could he get in legal trouble for that?", "get into tech": a state reached
        *("there", "in", "into", "away", "caught", "sued", "fined", "arrested", "banned"),
        "out",  # "how do I get out of this mess"
    ]
)
_JOBS = frozenset(["job", "jobs", "role", "promotion", "interview", "internship"])


def _gets_nothing_made(after: tuple[str, ...]) -> bool:
    """ "get" followed by a passive ("invented"), a state ("better"), a job ("a junior
    job") or a condition ("what jobs can I get if I learn SQL"): nothing asked for."""
    if not after:
        return False
    if after[0].endswith("ed") or after[0] in _NOTHING_GOT or after[0] in _JOBS:
        return True
    return after[0] in ("a", "an") and bool(_JOBS.intersection(after[1:]))


_BEFORE_A_VERB = frozenset(["to", "please", "pls", "you", "and", "then", ",", ":", "i", "we"])


# A verb after these is a condition or a time, not an order: "when you create", "if I add".
_CLAUSE_OPENERS = frozenset(
    (opener, subject)
    for opener in ("when", "whenever", "if", "once", "after", "before")
    for subject in ("you", "i", "we")
)


def asks_for_artifact_at(words: tuple[str, ...], i: int) -> bool:
    """An artifact verb ("make" in "make more sense" is none) or a code symbol (a quote is
    none: "is SQL a real language? my friend says it's 'just queries'")."""
    w = words[i]
    if words[max(0, i - 2) : i] in (("should", "i"), ("should", "we")):
        return False  # "what category should I list mugs under?": the verb asked about
    if words[max(0, i - 2) : i] in _CLAUSE_OPENERS:
        return False  # "what happens on disk when you create a relationship?": a condition
    if w == "list" and i > 0 and words[i - 1] not in _BEFORE_A_VERB:
        return False  # "a club's membership list" is a noun
    if w == "get" and "did" in words[max(0, i - 6) : i]:
        return False  # "how did SQL get its name": a question about the past
    if w == "get" and _gets_nothing_made(words[i + 1 : i + 5]):
        return False  # "how did SQL get invented", "get better at", "get a junior job"
    if w == "make" and any(_comparative(x) for x in words[i + 1 : i + 1 + _MAKE_WINDOW]):
        return False  # "how does an index make lookups faster?": a cause, not a thing made
    if w in ("give", "list") and any(x in _PROSE_OBJECTS for x in words[i + 1 : i + 6]):
        return False  # "give me pros and cons", "list some tips": prose, not an artifact
    if w in _ARTIFACT_VERBS:
        return not (
            phrase_at(words, i + 1, ("sense",)) or phrase_at(words, i + 1, ("more", "sense"))
        )
    return w in CODE_SYMBOLS and w != '"'


# Pieces of prose a writing request makes: "write a rejection email to a candidate ...".
_PROSE_PIECES = frozenset(
    [
        *("email", "emails", "letter", "letters", "message", "note", "toast", "speech"),
        *("poem", "story", "essay", "post", "caption", "bio", "reply", "apology", "headline"),
        *("tagline", "slogan", "column", "blog", "tweet", "announcement", "invitation"),
        *("eulogy", "card", "limerick", "joke", "song", "lyrics", "newsletter", "review"),
        *("summary", "paragraph", "description", "invite", "memo", "report", "notice"),
        *("proposal", "agenda", "blurb", "intro", "introduction", "faq"),
        # "give me an outline", "draft a job ad", "write release notes from this changelog"
        *("outline", "ad", "advert", "advertisement", "notes", "abstract", "pitch"),
        # words of a language, not code: "give me 20 phrasal verbs with 'get'"
        *("verbs", "phrasal", "idioms", "synonyms", "antonyms"),
        # "give me a sentence I can put in the status page saying ..."
        *("sentence", "sentences"),
    ]
)
_PROSE_WINDOW = 5


def asks_for_prose(tokens: Tokens) -> bool:
    """Whether the first thing the prompt asks to be made is a piece of prose named within a
    few words of its verb ("write a short toast for ...", "can you write an email to query a
    charge"): made, but not by an expert that writes code or data."""
    words = tokens.words
    i = _first_artifact_verb(words)
    if i is None:
        return False
    i = _last_of_chain(words, i)
    window = words[i + 1 : i + 1 + _PROSE_WINDOW]
    return not _PROSE_PIECES.isdisjoint(window) or _prose_length(window) or _to_someone(window)


# People a text is written to: "write to the customer that their feature request is on our
# roadmap" (not "write to the users table").
_ADDRESSEES = frozenset(
    [
        *("customer", "customers", "client", "clients", "boss", "manager", "landlord"),
        *("candidate", "candidates", "recruiter", "colleague", "colleagues", "parents"),
        *("teacher", "vendor", "supplier", "tenant", "tenants", "council", "school"),
    ]
)
_OWNED = frozenset(["the", "our", "my", "a", "an", "this", "that", "their", "his", "her"])


def _to_someone(window: tuple[str, ...]) -> bool:
    """The verb writes to a person: "to", maybe a determiner, then who reads it."""
    if window[:1] != ("to",):
        return False
    k = 2 if window[1:2] and window[1] in _OWNED else 1
    return window[k : k + 1] != () and window[k] in _ADDRESSEES


_CHAIN = frozenset(["and", "or", "then", ","])


def _last_of_chain(words: tuple[str, ...], i: int) -> int:
    """The last verb of a chain that starts at ``words[i]``: "draft and then write a short
    speech" makes what "write" names."""
    k = i + 1
    while k < len(words) and words[k] in _CHAIN:
        k += 1
    if k > i + 1 and k < len(words) and words[k] in _ARTIFACT_VERBS:
        return _last_of_chain(words, k)
    return i


# (not "line": "a one-line query" is code)
_PROSE_UNITS = frozenset(["sentence", "word", "paragraph", "page"])


# "write the first 300 words": so many words are prose ("the first 3 words of a string" are
# a function's output).
_PROSE_WORD_COUNT = 50


def _prose_length(window: tuple[str, ...]) -> bool:
    """A length given in prose units: "write a two-sentence label", "a 50-word bio", "the
    first 300 words"."""
    return any(
        (window[k + 1 : k + 2] == ("-",) and window[k + 2 : k + 3] in {(u,) for u in _PROSE_UNITS})
        or (
            window[k].isdigit()
            and int(window[k]) >= _PROSE_WORD_COUNT
            and window[k + 1 : k + 2] == ("words",)
        )
        for k in range(len(window))
    )


def asks_for_prose_only(tokens: Tokens) -> bool:
    """:func:`asks_for_prose`, with no piece of code named beside the prose ("write a query
    for a report of sales by month" asks for the query)."""
    words = tokens.words
    i = _first_artifact_verb(words)
    if i is None or not asks_for_prose(tokens):
        return False
    i = _last_of_chain(words, i)
    if words[i] not in _MAKING_VERBS:
        return False  # "return how many letters I'll paint": what a function gives back
    return _CODE_PIECES.isdisjoint(words[i + 1 : i + 1 + _PROSE_WINDOW])


# Verbs that make a text, unlike "return", "list", "show" or "get", which also say what a
# piece of code does.
_MAKING_VERBS = frozenset(["write", "draft", "give", "make", "create", "generate"])


# Pieces of code a request makes: "write a Rust function that formats a track length ...".
_CODE_PIECES = frozenset(
    [
        *("function", "functions", "fn", "func", "query", "queries", "script", "snippet"),
        *("program", "method", "struct", "class", "regex", "statement", "oneliner", "helper"),
    ]
)


def asks_for_code(tokens: Tokens) -> bool:
    """Whether the first thing the prompt asks to be made is a piece of code named within a
    few words of its verb ("write a Rust function that ...", "give me a query for ..."), and
    no piece of prose is ("write an email to query a charge")."""
    words = tokens.words
    i = _first_artifact_verb(words)
    window = words[i + 1 : i + 1 + _PROSE_WINDOW] if i is not None else ()
    return not _CODE_PIECES.isdisjoint(window) and _PROSE_PIECES.isdisjoint(window)


# Data formats a prompt may ask its answer in, or hand over as input.
DATA_FORMATS = frozenset(
    ["json", "csv", "tsv", "yaml", "yml", "xml", "toml", "html", "markdown", "xlsx", "excel"]
)
# Formats no demo language expert writes: "as CSV" names the answer's language.
_OUTPUT_ONLY = DATA_FORMATS - {"json"}
INTO_WORDS = frozenset(["as", "in", "into", "to"])


def output_formats(tokens: Tokens) -> dict[str, str]:
    """Format -> its word, for every data format the answer is asked in ("as CSV", "in YAML");
    such a format names the answer's language as a language name does."""
    words = tokens.words
    found = {
        w: w
        for i, w in enumerate(words)
        if w in _OUTPUT_ONLY and i > 0 and words[i - 1] in INTO_WORDS
    }
    # "a JSON schema for ...": a schema is another document than the JSON it describes
    for i in range(len(words) - 1):
        if words[i] == "json" and words[i + 1] == "schema":
            found.setdefault("json schema", "json schema")
    # "return a JSON object with keys title and year": JSON is the answer, not a query's.
    for i in range(len(words)):
        if _json_value(words, i):
            found.setdefault("json", f"a json {words[i + 1]}")
        elif words[i] == "json" and words[i + 1 : i + 3] in (("for", "a"), ("for", "an")):
            found.setdefault("json", "json for a")  # "json for a wreck record: name, year"
    return found


_JSON_VALUES = frozenset(["object", "objects", "array", "document", "record", "payload"])


def _json_value(words: tuple[str, ...], i: int) -> bool:
    """ "a JSON object", "an json array" at ``i``: a JSON value asked for by its kind."""
    return (
        words[i] == "json"
        and 0 < i < len(words) - 1
        and words[i + 1] in _JSON_VALUES
        and words[i - 1] in ("a", "an", "example", "sample")  # "an example JSON record"
    )


def format_is_output(tokens: Tokens, fmt: str) -> bool:
    """Whether ``fmt`` is what the answer is asked in ("as JSON", "to json", "into JSON")."""
    words = tokens.words
    return any(
        w == fmt and i > 0 and (words[i - 1] in INTO_WORDS or _json_value(words, i))
        for i, w in enumerate(words)
    )
