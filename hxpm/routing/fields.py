"""Fields a prompt asks for, against the fixed object an expert writes (docs/routing.md, "The
object, not only the format").

expert-json's description promises one object, ``{item, color, size}``. "Give me an example
JSON record for a substation with id, voltage_kv, latitude and longitude" names its format
and asks for another object: four fields the expert never writes. The words of the format
and of a colour or a size may still lead to the expert ("Make me a JSON object for a kite:
brand, size in square metres, year"), so the fields named decide: two or more that are not
the expert's, and more of them than of its own, ask for another schema.

The schema is read from the expert's own description (its fields between braces), never
assumed; a field is a snake_case name or a common field name of records (hxpm's own short
list below). Plain Python over the prompt's tokens.
"""

from __future__ import annotations

import re

from hxpm.routing.text import Tokens

# Names of fields records commonly have that no garment description uses as a word on its
# own: an ``id``, a ``year``, a ``price``. Checked on every blind set (docs/routing.md): no
# prompt meant for the JSON expert names two of them.
FIELD_NAMES = frozenset(
    [
        *("id", "ids", "name", "title", "year", "date", "price", "cost", "brand", "model"),
        *("height", "width", "depth", "length", "weight", "latitude", "longitude", "lat"),
        *("lng", "lon", "email", "phone", "address", "age", "status", "rating", "url"),
        *("description", "quantity", "qty", "count", "capacity", "voltage", "speed"),
        *("author", "isbn", "genre", "duration", "score", "city", "country", "timestamp"),
        *("amount", "total", "channels", "epoch", "sku"),
    ]
)
# Spellings of one field: an expert that writes "color" writes "colour" too.
_SAME_FIELD = {"colour": "color"}
MIN_FOREIGN = 2  # other fields that make another object: one ("a price") may be an aside
_BRACES = re.compile(r"\{([^{}]*)\}")


def schema_fields(description: str) -> frozenset[str]:
    """The fields of the one object an expert's description says it writes ("a fixed-schema
    JSON object {item, color, size}"), or none."""
    found = _BRACES.search(description)
    if found is None:
        return frozenset()
    names = (n.strip().lower() for n in found.group(1).split(","))
    return frozenset(_SAME_FIELD.get(n, n) for n in names if n.replace("_", "").isalnum())


def asked_fields(tokens: Tokens) -> frozenset[str]:
    """The prompt's words as field names (``colour`` read as ``color``); :func:`other_fields`
    keeps those that name a field."""
    return frozenset(_SAME_FIELD.get(w, w) for w in tokens.words)


def other_fields(schema: frozenset[str], asked: frozenset[str]) -> tuple[str, ...]:
    """The fields of another object the prompt asks for: at least MIN_FOREIGN field names
    outside ``schema``, and more than it names of ``schema`` (empty when it does not)."""
    if not schema:
        return ()
    foreign = sorted(w for w in asked if w not in schema and _is_field(w))
    own = len(schema & asked)
    return tuple(foreign) if len(foreign) >= MIN_FOREIGN and len(foreign) > own else ()


def _is_field(word: str) -> bool:
    return word in FIELD_NAMES or ("_" in word.strip("_") and word.replace("_", "").isalnum())
