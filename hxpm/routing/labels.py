"""Labelling requests and label questions: asking for a text's kind without naming the task.

"label this text by type: ...", "sort this document into the right bucket: '...'" ask the
classification task (docs/routing.md, "Labelling requests", "Label questions and sorting").

"Is 'Breakfast is served from seven until ten' a statement?" asks the sentence-type task,
and "Invoice or contract? 'This Agreement is entered into by ...'" asks the classification
task, though neither names its task. A prompt is a **label question** when it supplies a
text (a quotation, or "this" with a quotation or a colon after it) and asks "is <the text>
a/an <kind>?" or "<kind> or <kind>?" with kinds of one task: sentence types, or kinds of
document (docs/routing.md, "Label questions"). Plain regular expressions over the prompt.
"""

from __future__ import annotations

import re

from hxpm.routing.requests import TEXT_WORDS
from hxpm.routing.text import Tokens
from hxpm.routing.variants import singular_of

# --- labelling requests -----------------------------------------------------------------------

_LABEL_VERBS = frozenset(
    [
        *("label", "labels", "labelling", "labeling", "labelled", "labeled"),
        *("tag", "tags", "tagging", "tagged", "bucket", "sort", "sorting", "group"),
    ]
)
_BY_WHAT = frozenset(["by", "with", "according"])
_KIND_NOUNS = frozenset(["type", "kind", "sort", "category", "genre", "topic", "class"])
# What is labelled is a text: "this text", "these emails", "each of the following".
LABELLED_TEXTS = frozenset(
    [
        *TEXT_WORDS,
        *("document", "documents", "doc", "docs", "email", "emails", "message", "messages"),
        *("article", "articles", "passage", "passages", "review", "reviews", "post", "posts"),
        *("headline", "headlines", "ticket", "tickets", "tweet", "tweets", "snippet"),
        *("snippets", "excerpt", "excerpts", "item", "items", "following", "below"),
    ]
)
_LABEL_WINDOW = 8  # words from the verb to the kind: "label each of these texts by type"
# How a request read from its verb and a handed text alone ends: "sort these: ..." may order
# the text's items, not label it, so the request is weaker evidence than "... by type".
BY_TEXT_ALONE = "with the text handed over"
# ...unless the verb's object is one text: "sort it: ..." files it, "sort these: ..." may order
_ONE_TEXT = frozenset(["it", "this"])


def labelling_request(tokens: Tokens) -> tuple[str, str] | None:
    """ "label this text by type": a verb that labels, then "by"/"with"/"according to" and
    the kind of thing to label by (the classification task); (verb, what it reads as) or
    None. "label the jars" labels by nothing, "tag me in the photo" neither."""
    words = tokens.words
    handed = _hands_text(tokens)  # once: a prompt may repeat a verb many times
    alone: tuple[str, str] | None = None
    for i, w in enumerate(words):
        if w not in _LABEL_VERBS or words[i + 1 : i + 2] == ("out",):
            continue  # "sort out the grammar in this letter" fixes it
        if _OWNED.intersection(words[max(0, i - 2) : i]) or _a_noun_here(words, i):
            continue  # "proofread my museum label: '...'": a label, not labelling
        window = words[i + 1 : i + 1 + _LABEL_WINDOW]
        if not _ORDERINGS.isdisjoint(window):
            continue  # "sort these words into alphabetical order" orders them
        for k, by in enumerate(window):
            if by not in _BY_WHAT:
                continue
            if not any(w in LABELLED_TEXTS for w in window[:k]):
                break  # "label the jars by kind": not a text
            rest = [x for x in window[k + 1 : k + 4] if x not in ("to", "its", "their", "the")]
            if rest and (singular_of(rest[0]) or rest[0]) in _KIND_NOUNS:
                return w, f"the request '{w} ... {by} {rest[0]}'"
        if alone is None and handed and _a_text(window[:4], handed):
            if _ONE_TEXT.intersection(window[:1]):  # "sort it pls: Shepherd's pie for 40 ..."
                alone = w, f"the request '{w} {window[0]} ...' with one text handed over"
            else:
                alone = w, f"the request '{w} ...' {BY_TEXT_ALONE}"
    # "sort this into one of our doc categories: ..." names where the text goes: say so
    return _sorting_request(words, handed) or alone


# Owners before a noun: "my museum label", "our tags"; a verb of labelling is never one's
# own ("needs a label for this one: ..." asks for one, so articles do not count).
_OWNED = frozenset(["my", "our", "your", "his", "her", "their", "its"])
_ARTICLES = frozenset(["this", "that", "the", "a", "an", "these", "those"])
# Words a verb of labelling follows in a request: "can you label", "please tag", "and sort".
_VERB_LEADS = frozenset(
    [*("you", "to", "please", "pls", "and", "then", "just", "i", "we", "also", "now", "quickly")]
)


def _a_noun_here(words: tuple[str, ...], i: int) -> bool:
    """``words[i]`` ends a noun phrase after an article ("translate this chord chart label
    into English: '...'"), so it names a label, not the act of labelling."""
    if i == 0 or not words[i - 1].isalpha() or words[i - 1] in _VERB_LEADS | _ARTICLES:
        return False
    return not _ARTICLES.isdisjoint(words[max(0, i - 3) : i - 1])


# Words of an ordering: "sort these spelling words into alphabetical order: ..." asks for
# the same words in another order, not for a label.
_ORDERINGS = frozenset(
    [
        *("alphabetical", "alphabetically", "ascending", "descending", "chronological"),
        *("chronologically", "numerical", "numerically", "order"),
    ]
)


def _hands_text(tokens: Tokens) -> bool:
    """A text follows a colon or a dash between spaces, or stands in quotes: "label this
    text: 'The museum ...'", "label this doc - GENEVA, Tuesday. Officials ..."."""
    words, glued = tokens.words, tokens.glued
    return any(
        (w in (":", "-", "\u2013", "\u2014") and len(words) - i > 2 and (w == ":" or not glued[i]))
        or w in ('"', "'", "\u201c", "\u2018")
        for i, w in enumerate(words)
    )


# "sort this document into the right bucket", "file these emails under the correct category":
# a text put into one of several kinds is labelled with it.
_SORT_VERBS = frozenset(["sort", "file", "put", "assign", "place", "bin", "drop"])
_INTO_PLACE = frozenset(["into", "in", "under", "to"])
_PLACE_NOUNS = frozenset(
    [*_KIND_NOUNS, *("bucket", "pile", "folder", "group", "box", "tray", "bin", "label")]
)
_PLACE_FILLERS = frozenset(
    [
        *("the", "a", "its", "their", "right", "correct", "proper", "which"),
        # "sort this into one of our doc categories: ..."
        *("one", "of", "our", "my", "your"),
    ]
)


def _sorting_request(words: tuple[str, ...], handed: bool) -> tuple[str, str] | None:
    for i, w in enumerate(words):
        if w not in _SORT_VERBS or words[i + 1 : i + 2] == ("out",):
            continue  # "sort out the grammar in this letter" fixes it
        window = words[i + 1 : i + 1 + _LABEL_WINDOW]
        for k, into in enumerate(window):
            if into not in _INTO_PLACE or not _a_text(window[:k], handed):
                continue
            rest = [x for x in window[k + 1 : k + 6] if x not in _PLACE_FILLERS]
            place = next((x for x in rest[:2] if (singular_of(x) or x) in _PLACE_NOUNS), None)
            if place is not None:
                return w, f"the request '{w} ... {into} ... {place}'"
    return None


def _a_text(before: tuple[str, ...], handed: bool) -> bool:
    """What is sorted is a text: named ("this document"), or "this"/"these"/"it" with the
    text handed over ("sort this into the right bucket: '...'")."""
    if any(x in LABELLED_TEXTS for x in before):
        return True
    # "label pls: '...'": nothing but a filler between the verb and the text
    bare = bool(before) and all(x in ("pls", "please", "plz", ":", "-") for x in before[:2])
    return (bare or any(x in ("this", "these", "it") for x in before)) and handed


# The two tasks a label question can ask, as the keyword groups of aliases.py name them.
SENTENCE_TYPE_TASK = "sentence type"
CLASSIFY_TASK = "classify"

# "an order" is a command when a quoted sentence is asked about ("is 'craft the pickaxe first'
# an order or a statement").
_SENTENCE_KINDS = frozenset(
    ["statement", "question", "command", "exclamation", "instruction", "order"]
)
# Kinds of document a user sorts mail and files into; hxpm's own list, no expert's labels.
# Not "statement": a sentence type first.
_DOCUMENT_KINDS = frozenset(
    [
        *("invoice", "receipt", "recipe", "news", "article", "contract", "agreement", "memo"),
        *("letter", "notice", "complaint", "bill", "quote", "quotation", "advert", "ad"),
        *("report", "newsletter", "policy", "minutes", "bug"),
    ]
)
_QUOTED = "(?:'[^']{3,}'|\"[^\"]{3,}\"|\u201c[^\u201d]{3,}\u201d|\u2018[^\u2019]{3,}\u2019)"
_QUOTES = "'\"\u201c\u2018"  # a quotation opens with one of these
# "this one", "this line", "this email": the handed text by its name
_THIS = r"(?:this|that|it)(?:\s+(?:one|line|sentence|text|phrase|message|bit|document|doc|email))?"
# A kind that is no label: an idiom ("it's a recipe for disaster") or a kind weighed against a
# clause ("is that a bug or is the check client-side only?"), not against another kind.
_NO_LABEL = r"(?!\s+for\s+(?:disaster|success|trouble)\b)(?!\s+or\s+(?:is|are|was|does|did)\b)"
# "is 'Close the gate.' a command", "is this one a question", "is this a news piece".
_IS_A = re.compile(
    rf"\bis\s+(?P<text>{_QUOTED}|{_THIS})\s+an?\s+(?P<kind>[a-z]+)\b{_NO_LABEL}", re.IGNORECASE
)
# "tell me if this is a command or not: ...", "whether it's a statement"
_THIS_IS_A = re.compile(
    rf"\b(?P<text>{_THIS})\s*(?:is|'s)\s+an?\s+(?P<kind>[a-z]+)\b{_NO_LABEL}", re.IGNORECASE
)
# "Invoice or contract?", "news or an advert:"
_EITHER = re.compile(r"\b(?P<a>[a-z]+),?\s+or\s+(?:an?\s+)?(?P<b>[a-z]+)\s*[?:]", re.IGNORECASE)
# "Is this news, a contract, or what?": two kinds listed before an open "or"
_LISTED = re.compile(r"\b(?P<a>[a-z]+),\s+(?:an?\s+)?(?P<b>[a-z]+),?\s+or\b", re.IGNORECASE)
# "what is it, invoice, contract, news...?": three kinds listed, with no "or"
_LISTED_THREE = re.compile(
    r"\b(?=(?P<a>[a-z]+),\s+(?:an?\s+)?(?P<b>[a-z]+),\s+(?:an?\s+)?(?P<c>[a-z]+)\b)",
    re.IGNORECASE,
)
# "... Total due $432.00 by March 15. which type is this?", "<- what sort of text is that":
# the kind of a handed text asked, with no kind named
_WHICH_KIND = re.compile(
    r"\b(?:what|which)\s+(?:type|kind|sort|category)(?:\s+of\s+(?:text|document|doc|writing))?"
    r"\s+(?:is|'s)\s+(?:this|that|it)\b",
    re.IGNORECASE,
)
_TEXT_BEFORE = 8  # words before "which type is this?" that are the text it asks about
# ...and a sign it is a document: a kind of one, a sum of money, a term of a bill
_DOCUMENT_SIGNS = re.compile(
    r"\b(?:invoice|receipt|total|due|vat|agreement|contract|recipe|news|report|bill)\b"
    r"|[$€£]\s?\d",
    re.IGNORECASE,
)
_SENTENCE_WORD = re.compile(r"\bsentences?\b", re.IGNORECASE)  # "what type is it?" of a sentence
_QUOTATION = re.compile(_QUOTED)
# "'Why does this letter say I owe money?' - what kind of sentence is that?": the sentence
# handed over first
_SENTENCE_TYPE_AFTER = re.compile(
    r"\b(?:what|which)\s+(?:kind|type|sort)\s+of\s+sentence\s+is\s+(?:that|this|it)\b",
    re.IGNORECASE,
)
# "Our class visited the fire station yesterday. <- is that a statement?": an arrow points
# at the handed text
_ARROWS = ("<-", "->", "\u2190", "\u2192")
# "Tell me the sentence type: Why does my r come out like a w", "type of this sentence? ...":
# the task named, then the sentence after a colon, question mark or dash (88 routing-set
# prompts, all for the sentence-type expert).
_SENTENCE_TYPE_ASKED = re.compile(
    r"\b(?:sentence\s+type|(?:type|kind|sort)\s+of\s+(?:this\s+|that\s+|the\s+following\s+"
    r"|the\s+)?sentence)\b(?:\s+(?:is\s+)?(?:this|that|it|here|below))?\s*[:?\-\u2013\u2014]"
    r"\s*\S+\s+\S+",
    re.IGNORECASE,
)
# What a sentence does, as a question paraphrases its types: asking, telling, ordering.
_SPEECH_ACTS = re.compile(
    r"\b(?:asking|telling|ordering|stating|commanding|instructing|exclaiming|giving an order)\b",
    re.IGNORECASE,
)


def _handed(prompt: str) -> bool:
    """A quotation, or two words or more after the first colon or question mark ("question,
    statement or order? Pack your waterproofs"). (Not a regular expression for the colon:
    "\\S+\\s+" backtracks quadratically over a run of colons.)"""
    if _QUOTATION.search(prompt) is not None or any(a in prompt for a in _ARROWS):
        return True
    # "Chimichurri — 1 cup parsley, ... is this a recipe, ...": a dash between spaces
    for dash in (" - ", " \u2013 ", " \u2014 ", " -- ", " --- "):
        at = prompt.find(dash)
        if at >= 0 and len(prompt[at + len(dash) :].split(maxsplit=2)) >= 2:
            return True
    for mark in (":", "?"):
        at = prompt.find(mark)
        if at >= 0 and len(prompt[at + 1 :].split(maxsplit=2)) >= 2:
            return True
    return False


def label_question(prompt: str) -> tuple[str, str] | None:
    """(task, how the prompt asks it) for a label question, or None."""
    if _SENTENCE_TYPE_ASKED.search(prompt) is not None:
        return SENTENCE_TYPE_TASK, "the label question 'sentence type: ...'"
    handed = _handed(prompt)
    if handed and _SENTENCE_TYPE_AFTER.search(prompt) is not None:
        return SENTENCE_TYPE_TASK, "the label question 'what kind of sentence is that?'"
    m = _IS_A.search(prompt) or _THIS_IS_A.search(prompt)
    if m is not None and (handed or m.group("text")[0] in _QUOTES):
        task = _task_of(m.group("kind").lower())
        if task is not None:
            return task, f"the label question 'is ... a {m.group('kind').lower()}'"
    kind = _WHICH_KIND.search(prompt)
    # the text handed over, or a document written out before the question; not a sentence's
    # kind ("what type is it?" after a rash or a plant described is no document)
    text = kind is not None and (handed or _document_before(prompt[: kind.start()]))
    if text and _SENTENCE_WORD.search(prompt) is None:
        return CLASSIFY_TASK, "the label question 'which type is this?'"
    if not handed:
        return None
    acts = {m.group().lower() for m in _SPEECH_ACTS.finditer(prompt)}
    if len(acts) >= 2:  # "asking something, telling something or ordering something: '...'"
        return SENTENCE_TYPE_TASK, f"the label question '{' or '.join(sorted(acts))}'"
    for m in (*_EITHER.finditer(prompt), *_LISTED.finditer(prompt)):
        a, b = m.group("a").lower(), m.group("b").lower()
        task = _task_of(a)
        if task is not None and task == _task_of(b) and a != b:
            return task, f"the label question '{a} or {b}?'"
    for m in _LISTED_THREE.finditer(prompt):
        kinds = [m.group(g).lower() for g in ("a", "b", "c")]
        task = _task_of(kinds[0])
        same = all(_task_of(k) == task for k in kinds[1:])
        if task is not None and same and len(set(kinds)) == len(kinds):
            return task, f"the label question '{', '.join(kinds)}'"
    return None


def _document_before(text: str) -> bool:
    """A document written out before a kind question: "... Total due $432.00 by March 15."."""
    return len(text.split()) >= _TEXT_BEFORE and _DOCUMENT_SIGNS.search(text) is not None


def _task_of(kind: str) -> str | None:
    singular = kind[:-1] if kind.endswith("s") and kind[:-1] in _DOCUMENT_KINDS else kind
    if singular in _SENTENCE_KINDS:
        return SENTENCE_TYPE_TASK
    if singular in _DOCUMENT_KINDS:
        return CLASSIFY_TASK
    return None


# --- what a classification verb classifies ---------------------------------------------------

_CLASSIFY_VERBS = frozenset(
    [
        *("classify", "classifies", "classifying", "categorise", "categorize"),
        *("categorising", "categorizing"),
    ]
)
_DETERMINERS = frozenset(
    [
        *("a", "an", "the", "these", "those", "my", "our", "your", "some", "all", "each"),
        # and the politeness a request may put before its object: "categorise pls: '...'"
        *("every", "pls", "plz", "please", "for", "me", "us", "quickly", "just"),
    ]
)
_TEXT_PLACES = frozenset(["this", "it", "following", "below", "above", ":", "'", '"'])
_OBJECT_WINDOW = 3  # words after the verb and its determiners: "a used book's condition"


def classified_object(tokens: Tokens) -> str | None:
    """The thing a classification verb is about when it is not a text: "classify these knots",
    "how do booksellers classify a used book's condition". Classifying those is not the
    document-classification task, whatever material the prompt hands over; None when the
    object is a text ("classify this email", "classify: ...", "categorise the invoices")."""
    words = tokens.words
    grouped = _grouped_into_categories(words)
    for i, w in enumerate(words):
        if w not in _CLASSIFY_VERBS and not grouped[i]:
            continue
        rest = [x for x in _sentence(words[i + 1 :]) if x not in _DETERMINERS][:_OBJECT_WINDOW]
        if not rest or rest[0] in _TEXT_PLACES or not rest[0].isalpha():
            return None  # "classify this", "classify: ...", "classify 'Dear Sir ...'"
        nouns = [x for x in rest if x.isalpha()]  # not the "'" of "a book's condition"
        if any(x in _TEXT_PLACES or x in LABELLED_TEXTS or _task_of(_singular(x)) for x in nouns):
            return None
        return rest[0]
    return None


# "put these expenses into the right tax categories": a verb of sorting, then "into" and a
# word of categories in its sentence, classifies as "classify" does.
_GROUPING_VERBS = frozenset(["put", "sort", "group", "split", "divide", "organise", "organize"])
_CATEGORY_WORDS = frozenset(["category", "categories", "groups", "buckets", "bins", "types"])


def _grouped_into_categories(words: tuple[str, ...]) -> list[bool]:
    """Per word: a verb of grouping whose sentence goes on to "into" and a word of categories.
    One pass from the end, so that a prompt repeating the verb stays linear."""
    found = [False] * len(words)
    into = categories = False
    for i in range(len(words) - 1, -1, -1):
        w = words[i]
        if w in ("?", "!", "."):
            into = categories = False
        into = into or w == "into"
        categories = categories or w in _CATEGORY_WORDS
        found[i] = w in _GROUPING_VERBS and into and categories
    return found


def _sentence(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words up to the end of their sentence: "classify clouds for me? Which types ..."
    classifies clouds, whatever the next sentence names."""
    end = next((k for k, w in enumerate(words) if w in ("?", "!", ".")), len(words))
    return words[:end]


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word
