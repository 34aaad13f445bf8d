"""Other ways users write a keyword (docs/routing.md, "Spellings users type").

- **Singulars**: a keyword listed in the plural ("rows") also matches its singular ("row"),
  as a keyword listed in the singular already matches its plural.
- **Short forms**: a word of a keyword also matches its common short form ("document" ->
  "doc", "database" -> "db", "function" -> "func").
- **"type of X"**: a phrase "X type" also matches "type of X" and "kind of X", and a phrase
  "kind of X" / "type of X" also matches the other wordings and "X type".
- **Misspelt language names**: a technology name of 5 letters or more also matches the
  prompt word that is one slip away from it: two neighbouring letters swapped ("pyhton"),
  one letter missing ("javscript") or one letter doubled or added inside the word
  ("pythonn", "pytthon"). Never a different letter ("cipher" is not "cypher"), a new last
  letter ("scalar" is not "scala") nor a shorter name ("javscript" is not "java").

Plain Python, no I/O: part of ``hxpm route``'s fast path.
"""

from __future__ import annotations

from collections.abc import Iterator

from hxpm.routing.text import Tokens

# Long word -> the short forms users type for it. Only abbreviations with no other common
# meaning in a request ("doc" for a document, not "doc" for a doctor: rare in a prompt that
# also says "type of").
SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "document": ("doc",),
    "documents": ("docs",),
    "database": ("db",),
    "databases": ("dbs",),
    "function": ("func", "fn"),
    "functions": ("funcs", "fns"),
    "application": ("app",),
    "configuration": ("config",),
    "repository": ("repo",),
}

# "document type" = "type of document" = "kind of document".
_KIND_WORDS = ("type", "kind", "sort")
MIN_TYPO_LENGTH = 5

Form = tuple[tuple[str, ...], tuple[bool, ...]]


def variant_forms(tokens: Tokens) -> tuple[Form, ...]:
    """The other spellings of a keyword (with each form's glue pattern), not the keyword's
    own tokens nor its plurals (text.keyword_forms has those)."""
    words, glued = tokens.words, tokens.glued
    out: list[Form] = []
    singular = singular_of(words[-1])
    if singular is not None:
        out.append(((*words[:-1], singular), glued))
    spaced = all(w.isalpha() for w in words) and not any(glued)
    for short in _short_variants(words):
        out.append((short, glued))
    if spaced:
        for reworded in _kind_of(words):
            out.append((reworded, (False,) * len(reworded)))
    return tuple(dict.fromkeys(out))


def singular_of(word: str) -> str | None:
    """ "rows" -> "row", "queries" -> "query", "boxes" -> "box"; None for a word that is not
    a plain English plural ("pandas", "class", "status", "analysis")."""
    if len(word) < 4 or not (word.isascii() and word.isalpha()) or not word.endswith("s"):
        return None
    if word.endswith(("ss", "us", "is", "as", "os")):
        return None
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


def _short_variants(words: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for i, w in enumerate(words):
        for short in SHORT_FORMS.get(w, ()):
            yield (*words[:i], short, *words[i + 1 :])


def _kind_of(words: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """ "document type" -> "type of document", "kind of document", "type of doc", ..."""
    if len(words) == 2 and words[1] in _KIND_WORDS:
        thing = words[0]
    elif len(words) == 3 and words[0] in _KIND_WORDS and words[1] == "of":
        thing = words[2]
    else:
        return
    for name in (thing, *SHORT_FORMS.get(thing, ())):
        yield (name, "type")
        for kind in _KIND_WORDS:
            yield (kind, "of", name)
            yield (kind + "s", "of", name)


class Misspellings:
    """Technology names, ready to recognise a prompt word one slip away from one of them."""

    __slots__ = ("_longest", "_missing", "names")

    def __init__(self) -> None:
        self.names: dict[str, list[int]] = {}  # name -> spec ids it hits
        self._missing: dict[str, str] = {}  # the name with one letter missing -> name
        self._longest = 0  # a slip changes a name's length by one letter at most

    def add(self, name: str, sid: int) -> None:
        if len(name) < MIN_TYPO_LENGTH or not (name.isascii() and name.isalpha()):
            return
        if name not in self.names:
            for i in range(len(name)):
                self._missing.setdefault(name[:i] + name[i + 1 :], name)
        self.names.setdefault(name, []).append(sid)
        self._longest = max(self._longest, len(name))

    def __bool__(self) -> bool:
        return bool(self.names)

    def lookup(self, token: str) -> tuple[str, str] | None:
        """(name, slip) for a prompt word that misspells a name ("pyhton" -> ("python",
        "two letters swapped")), or None. The caller only asks for words no keyword took."""
        if len(token) < MIN_TYPO_LENGTH or len(token) > self._longest + 1:
            return None  # also keeps a 60,000-letter "word" from costing quadratic time
        if not (token.isascii() and token.isalpha()):
            return None
        names = self.names
        if token in names:
            return None
        name = self._missing.get(token)
        if name is not None:
            return name, "a letter missing"
        for i in range(len(token) - 1):
            a, b = token[i], token[i + 1]
            if a != b:
                swapped = token[:i] + b + a + token[i + 2 :]
                if swapped in names:
                    return swapped, "two letters swapped"
        for i in range(len(token)):
            if i == len(token) - 1 and token[i] != token[i - 1]:
                break  # a letter added at the end makes another word: "scalar", "julian"
            shorter = token[:i] + token[i + 1 :]
            if shorter in names and len(shorter) >= MIN_TYPO_LENGTH:
                return shorter, "a letter too many"
        return None
