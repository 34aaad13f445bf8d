"""THE strict JSON reader (issue 11 item 5): limits, refusals with a JSON path, one reader.

The last test greps the tree: every untrusted JSON read goes through hxpm.core.strictjson.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hxpm.core.strictjson import (
    DuplicateKeyError,
    JsonError,
    JsonTooLargeError,
    read_json,
    read_json_keeping_comments,
)

REPO = Path(__file__).resolve().parents[3]
CAP = 1 << 20


@pytest.mark.parametrize(
    ("text", "path", "needle"),
    [
        ('{"a": {"b": [1, {"c": 1, "c": 2}]}}', "a.b[1].c", "duplicate key 'c'"),
        ('{"a": [1, 2, NaN]}', "a[2]", "NaN is not a JSON number"),
        ('{"x": {"y": -Infinity}}', "x.y", "-Infinity is not a JSON number"),
        ('{"big": 1e400}', "big", "out of range"),
        ('{"n": [' + "9" * 5000 + "]}", "n[0]", "5000 digits"),
        ('{"n": 18446744073709551616}', "n", "at most 64 bits"),
        ('{"n": -18446744073709551616}', "n", "at most 64 bits"),
        ('{"d": ' + "[" * 70 + "]" * 70 + "}", "d" + "[0]" * 63, "at most 64 levels"),
    ],
)
def test_refusals_name_the_json_path(text: str, path: str, needle: str) -> None:
    with pytest.raises(JsonError) as info:
        read_json(text.encode(), max_bytes=CAP)
    assert info.value.path == path and needle in str(info.value), str(info.value)


def test_limits_that_hold() -> None:
    assert read_json(b'{"n": 18446744073709551615}', max_bytes=CAP) == {"n": 2**64 - 1}
    assert read_json(b"[" * 64 + b"]" * 64, max_bytes=CAP) is not None
    assert read_json(b"1e308", max_bytes=CAP) == 1e308


@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 3000 + b"]" * 3000])
def test_deep_nesting_is_an_error_not_a_recursion_error(data: bytes) -> None:
    with pytest.raises(JsonError):
        read_json(data, max_bytes=len(data))


def test_size_cap_is_checked_before_parsing() -> None:
    with pytest.raises(JsonTooLargeError, match="more than the 10-byte limit"):
        read_json(b'{"a": "0123456789"}', max_bytes=10)
    with pytest.raises(JsonTooLargeError):  # text is measured in UTF-8 bytes
        read_json('"' + "é" * 6 + '"', max_bytes=10)


def test_encoding() -> None:
    with pytest.raises(JsonError, match=r"not UTF-8 text .* offset 2"):
        read_json(b'["\xff"]', max_bytes=CAP)
    with pytest.raises(JsonError):
        read_json(b'\xef\xbb\xbf{"a": 1}', max_bytes=CAP)
    assert read_json(b'\xef\xbb\xbf{"a": 1}', max_bytes=CAP, bom=True) == {"a": 1}


def test_comment_keys_may_repeat_only_when_asked() -> None:
    text = b'{"_c": 1, "x": {"_c": 2, "_c": 3}}'
    value, dups = read_json_keeping_comments(text, max_bytes=CAP)
    assert [(d.path, d.count) for d in dups] == [("x._c", 2)] and value["x"]["_c"] == 3
    with pytest.raises(DuplicateKeyError) as info:
        read_json(text, max_bytes=CAP)
    assert (info.value.key, info.value.path) == ("_c", "x._c")


def test_a_refused_number_hidden_in_an_earlier_comment_copy_is_found() -> None:
    with pytest.raises(JsonError, match="NaN"):
        read_json_keeping_comments(b'{"_c": NaN, "_c": 1}', max_bytes=CAP)


# --- one reader for all untrusted JSON ----------------------------------------------------

# Each allowed use, with why it is not untrusted input.
ALLOWED = {
    "hxpm/core/strictjson.py": "the reader itself",
    "hxpm/store/state.py": "rows of our own state.sqlite, written by json.dumps",
    "hxpm/index/search_query.py": "rows of our own index cache, written by json.dumps",
    "hxpm/runtime/metrics.py": "scores model output as JSON; parses nothing it keeps",
    "hxpm/templates/expert/tests/test_expert.py": "a template copied into the author's repo",
    "hxpm/index/cache_schema.py": "schema 2-3 rows of our own index cache, json.dumps'd",
    # Untrusted, read leniently on purpose (the index cache's design, see its docstring):
    # a display-only summary for `hxpm search` of a file not yet checked, strings only,
    # escaped when shown, replaced by the verified lines at first use.
    "hxpm/index/cache_rows.py": "search-display summary of an unchecked file (see above)",
    "hxpm/index/cache_routing.py": "routing summary for `search --prompt`, same design as above",
    "hxpm/index/model_checks.py": (
        "the fast path for index lines: it keeps only text that "
        "writes back byte for byte (what read_json would accept "
        "too); anything else goes to read_json"
    ),
    # Files hxpm wrote itself, or text a signature check has already accepted:
    "hxpm/_httppart.py": "our own record of a partial download in the store",
    "hxpm/index/verified.py": "cached lines, stored only after they were verified",
    "hxpm/routing/profile.py": "an installed profile, read_json-checked with its package",
    "hxpm/services/sparse_fetch.py": "an expert file whose signature was already verified",
    "hxpm/services/sparse_state.py": "our own state.json in the store",
}
_RAW_JSON_READ = re.compile(r"\bjson\.loads?\(|JSONDecoder\(|\.raw_decode\(")


def test_every_untrusted_json_read_goes_through_the_strict_reader() -> None:
    offenders, seen = [], set()
    for root in ("hxpm",):
        for path in sorted((REPO / root).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _RAW_JSON_READ.search(line.split("#")[0]):
                    if rel in ALLOWED:
                        seen.add(rel)
                    else:
                        offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, (
        "read untrusted JSON with hxpm.core.strictjson.read_json, or add "
        "a trusted use to ALLOWED with its reason:\n" + "\n".join(offenders)
    )
    assert seen == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - seen}"
