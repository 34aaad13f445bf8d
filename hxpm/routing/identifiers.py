"""SQL asked in words over snake_case names (docs/routing.md, "Shapes"): "how many bottles in
chem_stock have an expiry_date before 2025", "campaign_clicks: total clicks per utm_source".
A snake_case name where a column or a table goes, next to a filter, a grouping or an
aggregate, shows a query as a clause in capitals does. So does a table named by a plural
("out of the parcels table"). Plain regular expressions.
"""

from __future__ import annotations

import re

# The shape only counts when no other language shows itself, and the router drops it when
# a prompt names one ("pandas: drop the rows of df where wind_speed is missing" is Python).
IDENTIFIER_QUERY = "the identifier query"
_SNAKE = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+"
_COMPARE = (
    r"(?:is|are|was|were|=|==|!=|<>|<=|>=|<|>|before|after|earlier|later|over|under|above"
    r"|below|between|equals?|contains?|starts?|like|not|null|missing|empty|older|newer)"
)
# An aggregate, a deletion or an ordering over rows: "list" and "show" are not ("show the
# files in my_docs"), "the 5 priciest chalets in chalet_bookings" is.
_AGGREGATE = re.compile(
    r"(?<![\w])(?:how many|count|total|sum|average|avg|mean|max|maximum|min|minimum|number of"
    r"|remove|delete|top \d+|distinct|order by|per|more than|less than|fewer than|greater than"
    r"|at least|at most|every|sorted by|ordered by|grouped by|most recent|newest|latest|oldest"
    r"|highest|lowest|largest|smallest|biggest|priciest|cheapest|most expensive|descending"
    r"|ascending)"
    r"(?![\w])",
    re.IGNORECASE,
)
# Where a filter or a grouping puts a column: these need no aggregate word.
_COLUMN_PLACES = (
    # "with asking_price under 250000" filters as "where" does
    re.compile(
        rf"(?<![\w.])(?:where|wherever|whose|with)\s+({_SNAKE})\s+{_COMPARE}(?![\w])",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<![\w.])(?:avg|average|sum|total|max|min|mean|count|distinct)\s+(?:of\s+)?"
        rf"({_SNAKE})(?![\w.(])",
        re.IGNORECASE,
    ),
    re.compile(rf"(?<![\w.])(?:per|for each)\s+({_SNAKE})(?![\w.(])", re.IGNORECASE),
    # a qualified column: "bump crew_members.day_rate by 5 percent" (not a method call)
    re.compile(rf"(?<![\w.])({_SNAKE}\.{_SNAKE})(?![\w.(])", re.IGNORECASE),
)
# Where a table goes, or a heading naming one: these need an aggregate word too.
_TABLE_PLACES = (
    re.compile(rf"(?<![\w.])(?:in|from|by)\s+({_SNAKE})(?![\w.(])", re.IGNORECASE),
    re.compile(rf"^\s*({_SNAKE})\s*(?::|\s-\s)", re.IGNORECASE),  # "costume_rentals - ..."
    # a table written with its columns: "jam_entries(team, title, votes, submitted_at)"
    re.compile(rf"(?<![\w.])({_SNAKE})\s*\(\s*[a-z_]+(?:\s*,\s*[a-z_]+){{2,}}\s*\)", re.IGNORECASE),
)
# A prompt that asks for a piece of code of another kind is not a query ("a function
# total_by_region that sums ... per region_id").
_OTHER_CODE = re.compile(
    r"(?<![\w])(?:function|fn|def|method|script|program|class|lambda|regex|loop)(?![\w])",
    re.IGNORECASE,
)


def identifier_query(raw: str) -> str | None:
    """The snake_case name in a column's place ("per utm_source"), or in a table's place
    with an aggregate in the prompt ("how many ... in chem_stock"), or None."""
    if _OTHER_CODE.search(raw) is not None:
        return None
    places = (
        _COLUMN_PLACES + _TABLE_PLACES if _AGGREGATE.search(raw) is not None else _COLUMN_PLACES
    )
    for place in places:
        m = place.search(raw)
        if m is not None:
            return " ".join(m.group().split())
    return None


# "in the plantings table", "out of the parcels table", "distinct postcodes in estates
# table": a plural noun naming a table is a database table's name; a table of furniture is
# "the kitchen table", "the times table".
_NAMED_TABLE = re.compile(
    r"(?<![\w])(?:in|from|of|into)\s+(?:the\s+|my\s+|our\s+)?([a-z]{3,}s)\s+tables?(?![\w])"
)
_EVERYDAY_TABLES = frozenset(
    ["times", "kids", "drinks", "gifts", "cards", "sweets", "guests", "desserts", "snacks"]
)


def named_table(raw: str) -> str | None:
    """ "the parcels table" when a plural noun names the table, or None."""
    for m in _NAMED_TABLE.finditer(raw.lower()):
        if m.group(1) not in _EVERYDAY_TABLES and not m.group(1).endswith("ss"):
            return f"the {m.group(1)} table"
    return None
