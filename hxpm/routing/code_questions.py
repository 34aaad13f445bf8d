"""Questions that ask for code (docs/routing.md, "Generic questions"): "what's the MATCH
statement for all employees ...", "what query should I write to list ...", "... ? cypher
pls". Such a question goes to the expert that writes the code, though it opens like a
general question, and the intent model does not veto it.

Plain Python, no I/O: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

from hxpm.routing.aliases import ALIASES
from hxpm.routing.text import Tokens, is_word

_CODE_NOUNS = frozenset(
    ["query", "statement", "clause", "command", "code", "snippet", "regex", "expression"]
)
_ASKING_FOR = frozenset(["for", "to", "that", "which", "returning", "listing", "getting"])
_QUESTION_HEAD = 8  # the code noun comes early: "what's the MATCH statement for ..."


def code_request(tokens: Tokens) -> str | None:
    """ "what's the MATCH statement for all employees ...": a question whose answer is a
    piece of code for a task it goes on to describe ("the ... statement for ..."), unlike
    "what is a query?" or "what is a query for?"; or None."""
    words = tokens.words
    for k in range(1, min(len(words) - 2, _QUESTION_HEAD)):
        if words[k] not in _CODE_NOUNS or words[k + 1] not in _ASKING_FOR:
            continue
        if not is_word(words[k + 2]):
            continue
        if any(w in ("the", "a", "an") for w in words[max(0, k - 3) : k]):
            return f"the {words[k]} {words[k + 1]} ..."
    return code_to_write(tokens) or _language_please(words)


_WHICH = frozenset(["what", "which"])
_MODALS = frozenset(["should", "do", "would", "can", "could", "must"])
_WRITE_OR_RUN = frozenset(["write", "use", "run", "type", "need"])
# Not "command": "what command do I run to restart postgres" asks for a shell command.
_WRITTEN_NOUNS = _CODE_NOUNS - {"command"}


def code_to_write(tokens: Tokens) -> str | None:
    """ "what query should I write to list members who joined in 2024", "which statement do
    I use for ...": a question for the piece of code that does a task; or None."""
    words = tokens.words
    for k in range(1, min(len(words) - 4, _QUESTION_HEAD)):
        asks = words[k - 1] in _WHICH and words[k] in _WRITTEN_NOUNS and words[k + 1] in _MODALS
        by_me = words[k + 2] in ("i", "we", "you") and words[k + 3] in _WRITE_OR_RUN
        if asks and by_me and not {"to", "for"}.isdisjoint(words[k + 4 : k + 6]):
            return f"{words[k - 1]} {words[k]} {words[k + 1]} ..."
    return _shown_in_language(words)


def _shown_in_language(words: tuple[str, ...]) -> str | None:
    """ "show me in Cypher how to list the Films a Director DIRECTED": how to do a task, shown
    in a language it names; or None."""
    for k in range(2, min(len(words) - 3, _QUESTION_HEAD)):
        shown = words[k - 2 : k] in (("show", "me"), ("tell", "me"))
        named = words[k] == "in" and words[k + 1] in _NAMED_TECH
        if shown and named and words[k + 2 : k + 4] == ("how", "to"):
            return f"{words[k - 2]} me in {words[k + 1]} how to ..."
    return None


_PLEASE = frozenset(["please", "pls", "plz"])
_NAMED_TECH = frozenset([*ALIASES, *(a for names in ALIASES.values() for a in names)])


def _language_please(words: tuple[str, ...]) -> str | None:
    """ "who are the friends-of-friends of loopyliz ...? cypher pls": a question that ends by
    naming the language of its answer asks for code (in 76 of the 77 routing-set prompts
    ending so; the other asks for HTML, which no demo expert writes); or None."""
    name = closing_language(words)
    return None if name is None else f"{name} {_unpunctuated(words)[-1]}"


def closing_language(words: tuple[str, ...]) -> str | None:
    """The language a prompt ends by asking for ("... Python 3 please.", "sql pls"), or
    None: it names the language of the answer, as a heading does."""
    words = _unpunctuated(words)
    if len(words) < 3 or words[-1] not in _PLEASE:
        return None
    # "... Python 3 please": a version between the name and the please
    name = words[-3] if words[-2].replace(".", "").isdigit() else words[-2]
    return name if name in _NAMED_TECH else None


def _unpunctuated(words: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` without the full stops, exclamation and question marks that end them."""
    while words and words[-1] in (".", "!", "?"):
        words = words[:-1]
    return words
