"""SemVer versions, ranges and requirement strings (hxpm/core/versions.py,
docs/architecture.md §1)."""

from __future__ import annotations

import random

import pytest

from hxpm.core.versions import (
    ANY,
    Requirement,
    Version,
    VersionSpec,
    parse_requirement,
    parse_spec,
)
from hxpm.errors import InvalidRequirementError, UsageError


def v(text: str) -> Version:
    return Version.parse(text)


# --- Version -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0",
        "1.2.3",
        "10.20.30",
        "1.0.0-rc.1",
        "1.0.0-0.3.7",
        "1.0.0-x-y-z.--",
        "1.0.0+build.5",
        "1.0.0-alpha+001",
    ],
)
def test_version_parse_valid(text: str) -> None:
    assert str(v(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "1.2",
        "v1.2.3",
        "01.2.3",
        "1.02.3",
        "1.2.3-01",
        "1.2.3-a..b",
        "1.2.3+",
        "1.2.3.4",
        "",
        "latest",
        "\u0661.0.0",
    ],
)
def test_version_parse_invalid_names_field_and_value(text: str) -> None:
    with pytest.raises(InvalidRequirementError) as info:
        Version.parse(text, field="dep.version")
    assert info.value.message.startswith("dep.version: expected a SemVer")
    assert repr(text) in info.value.message


@pytest.mark.parametrize("value", [None, 1, 1.0, ["1.0.0"]])
def test_version_parse_non_string(value: object) -> None:
    with pytest.raises(InvalidRequirementError) as info:
        Version.parse(value)
    assert info.value.message.startswith("version: expected a SemVer string")


def test_version_ordering_follows_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    shuffled = list(reversed(ordered))
    assert [str(x) for x in sorted(v(t) for t in shuffled)] == ordered
    random.Random(7).shuffle(shuffled)  # also from an order that is not simply reversed
    assert [str(x) for x in sorted(v(t) for t in shuffled)] == ordered
    assert v("1.10.0") > v("1.9.0")


def test_build_metadata_does_not_take_part_in_equality() -> None:
    assert v("1.0.0+a") == v("1.0.0+b") == v("1.0.0")
    assert hash(v("1.0.0+a")) == hash(v("1.0.0"))
    assert len({v("1.0.0+a"), v("1.0.0")}) == 1
    assert v("1.0.0") != v("1.0.0-rc.1")


def test_version_properties() -> None:
    assert v("1.2.3-rc.1").is_prerelease and not v("1.2.3").is_prerelease
    assert v("1.2.3-rc.1").release == (1, 2, 3)
    assert v("1.0.0").__eq__("1.0.0") is NotImplemented


def test_invalid_requirement_error_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        parse_requirement("A")
    assert info.value.exit_code == 2 and info.value.code == "invalid-requirement"
    assert info.value.hint


# --- ranges --------------------------------------------------------------------------------

# (range, versions it allows, versions it refuses); no pre-releases here (see below).
RANGES: list[tuple[str, list[str], list[str]]] = [
    ("*", ["0.0.1", "1.0.0", "99.0.0"], []),
    ("x", ["0.0.1", "5.0.0"], []),
    ("", ["1.0.0"], []),
    ("1.2.3", ["1.2.3", "1.2.3+build"], ["1.2.4", "1.2.2"]),
    ("=1.2.3", ["1.2.3"], ["1.2.4"]),
    ("==1.2.3", ["1.2.3"], ["1.3.0"]),
    ("!=1.2.3", ["1.2.2", "1.2.4"], ["1.2.3"]),
    (">=1.0.0", ["1.0.0", "7.0.0"], ["0.9.9"]),
    (">1.0.0", ["1.0.1"], ["1.0.0"]),
    ("<2.0.0", ["1.9.9", "0.0.1"], ["2.0.0"]),
    ("<=0.9.0", ["0.9.0", "0.1.0"], ["0.9.1", "1.0.0"]),
    (">=1.0.0,<2.0.0", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    (">=1.0.0, <2.0.0", ["1.5.0"], ["2.0.0"]),
    (" >= 1.0.0 , < 2.0.0 ", ["1.5.0"], ["2.1.0"]),
    (">=1.0.0,<2.0.0,!=1.5.0", ["1.4.0", "1.6.0"], ["1.5.0"]),
    # caret: the leftmost non-zero part is fixed
    ("^1.2.3", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0"]),
    ("^1.2", ["1.2.0", "1.99.0"], ["1.1.9", "2.0.0"]),
    ("^1", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    ("^0.2.3", ["0.2.3", "0.2.9"], ["0.2.2", "0.3.0"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ("^0.0", ["0.0.0", "0.0.9"], ["0.1.0"]),
    ("^0", ["0.0.0", "0.9.9"], ["1.0.0"]),
    ("^1.2.x", ["1.2.0", "1.3.0"], ["2.0.0"]),
    # tilde: patch-level changes (minor-level when only the major is given)
    ("~1.2.3", ["1.2.3", "1.2.9"], ["1.2.2", "1.3.0"]),
    ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0", "1.1.9"]),
    ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
    ("~0.2.3", ["0.2.3", "0.2.4"], ["0.3.0"]),
    # partial versions are wildcards
    ("1.2", ["1.2.0", "1.2.9"], ["1.3.0", "1.1.0"]),
    ("1", ["1.0.0", "1.9.9"], ["2.0.0", "0.9.0"]),
    ("1.x", ["1.0.0", "1.5.0"], ["2.0.0"]),
    ("1.*", ["1.0.0"], ["2.0.0"]),
    ("1.2.x", ["1.2.0", "1.2.7"], ["1.3.0"]),
    ("1.2.*", ["1.2.5"], ["1.3.0"]),
    ("=1.2", ["1.2.4"], ["1.3.0"]),
    (">=1.2", ["1.2.0", "3.0.0"], ["1.1.9"]),
    (">1.2", ["1.3.0"], ["1.2.9"]),
    ("<1.2", ["1.1.9"], ["1.2.0"]),
    ("<=1.2", ["1.2.9"], ["1.3.0"]),
    ("=*", ["3.0.0"], []),
    ("*,>=1.0", ["1.0.0"], ["0.5.0"]),
]


@pytest.mark.parametrize(
    ("text", "allowed", "refused"), RANGES, ids=[r[0] or "empty" for r in RANGES]
)
def test_ranges(text: str, allowed: list[str], refused: list[str]) -> None:
    spec = parse_spec(text)
    for t in allowed:
        assert spec.allows(v(t)), f"{text!r} should allow {t}"
    for t in refused:
        assert not spec.allows(v(t)), f"{text!r} should refuse {t}"


def test_any_range() -> None:
    assert parse_spec("*") is ANY and parse_spec("  ") is ANY and parse_spec("x") is ANY
    assert ANY.is_any and str(ANY) == "*"
    assert not parse_spec(">=1.0").is_any


def test_spec_keeps_its_text_and_parse_alias() -> None:
    spec = VersionSpec.parse(" >=1.0, <2.0 ")
    assert str(spec) == ">=1.0, <2.0"
    assert [str(c) for c in spec.comparators] == [">=1.0.0", "<2.0.0"]


@pytest.mark.parametrize(
    "text",
    [
        ">>1",
        "=>1.0",
        "1.2.3.4",
        "01.2",
        "1.02",
        ">=1.0,",
        ",1.0",
        "1.0 2.0",
        ">=*",
        "!=1.2",
        "!=1",
        "1.2-rc.1",
        "1-rc",
        "~>1.0",
        "latest",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3-a..b",
        "1.2.3+",
        "v1.2.3",
        "\u0661",
        "1\u0661.0.0",
        "^",
        ">=",
    ],
)
def test_bad_ranges_name_field_and_value(text: str) -> None:
    with pytest.raises(InvalidRequirementError) as info:
        parse_spec(text, field="constraints.requires[0]")
    message = info.value.message
    assert message.startswith("constraints.requires[0]: expected a version range")
    assert repr(text.strip()) in message


# --- pre-releases --------------------------------------------------------------------------


def test_prereleases_need_asking_for() -> None:
    for text in ("*", ">=1.0.0", "^1.0", ">=1.0.0,<2.0.0", "<2.0.0"):
        spec = parse_spec(text)
        assert not spec.allows(v("1.1.0-rc.1")), text
        assert spec.allows(v("1.1.0-rc.1"), allow_prerelease=True), text


def test_a_range_naming_a_prerelease_allows_that_release_line_only() -> None:
    spec = parse_spec(">=1.1.0-rc.1")
    assert spec.allows(v("1.1.0-rc.1")) and spec.allows(v("1.1.0-rc.2"))
    assert spec.allows(v("1.1.0")) and spec.allows(v("1.2.0"))
    assert not spec.allows(v("1.2.0-rc.1"))
    assert not spec.allows(v("1.1.0-beta.1"))  # below the range


def test_prerelease_caret_and_tilde_and_exact() -> None:
    caret = parse_spec("^1.2.3-beta.2")
    assert caret.allows(v("1.2.3-beta.3")) and caret.allows(v("1.2.3")) and caret.allows(v("1.9.0"))
    assert not caret.allows(v("1.2.4-beta.1")) and not caret.allows(v("2.0.0"))
    tilde = parse_spec("~1.2.3-beta.2")
    assert tilde.allows(v("1.2.3-rc.1")) and not tilde.allows(v("1.3.0"))
    exact = parse_spec("1.0.0-rc.1")
    assert exact.allows(v("1.0.0-rc.1")) and not exact.allows(v("1.0.0-rc.2"))
    assert not exact.allows(v("1.0.0"))


# --- requirement strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "spec", "source"),
    [
        ("expert-sql", "expert-sql", "*", None),
        ("expert-sql@*", "expert-sql", "*", None),
        ("expert-sql@", "expert-sql", "*", None),
        ("expert-sql@x", "expert-sql", "*", None),
        ("expert-sql@1.2.3", "expert-sql", "1.2.3", None),
        ("expert-sql@>=1.0.0", "expert-sql", ">=1.0.0", None),
        ("expert-sql@>=1.0.0,<2.0.0", "expert-sql", ">=1.0.0,<2.0.0", None),
        ("expert-sql@^1.2", "expert-sql", "^1.2", None),
        ("expert-sql@~1.2", "expert-sql", "~1.2", None),
        ("  expert-sql@^1.2  ", "expert-sql", "^1.2", None),
        ("expert-sql@ >=1.0", "expert-sql", ">=1.0", None),
        ("sql", "sql", "*", None),
        ("x", "x", "*", None),
        ("e" * 64, "e" * 64, "*", None),
        # the legacy form without '@'
        ("english-legacy<=0.9.0", "english-legacy", "<=0.9.0", None),
        ("english-legacy <=0.9.0", "english-legacy", "<=0.9.0", None),
        ("expert-x>=1.0,<2", "expert-x", ">=1.0,<2", None),
        ("expert-x^1.2", "expert-x", "^1.2", None),
        ("expert-x=1.0.0", "expert-x", "=1.0.0", None),
        ("expert-v2>=1.0", "expert-v2", ">=1.0", None),
        # Git sources: the expert name is the repository name
        (
            "github.com/user/expert-json@>=0.4",
            "expert-json",
            ">=0.4",
            "github.com/user/expert-json",
        ),
        ("github.com/user/expert-json", "expert-json", "*", "github.com/user/expert-json"),
        (
            "https://github.com/u/expert-json.git@^0.4",
            "expert-json",
            "^0.4",
            "https://github.com/u/expert-json.git",
        ),
        (
            "git@github.com:user/expert-json.git",
            "expert-json",
            "*",
            "git@github.com:user/expert-json.git",
        ),
        (
            "git@github.com:user/expert-json.git@1.0.0",
            "expert-json",
            "1.0.0",
            "git@github.com:user/expert-json.git",
        ),
        ("file:///srv/experts/expert-x/", "expert-x", "*", "file:///srv/experts/expert-x/"),
        (
            "https://user@github.com/u/expert-x",
            "expert-x",
            "*",
            "https://user@github.com/u/expert-x",
        ),
    ],
)
def test_parse_requirement(text: str, name: str, spec: str, source: str | None) -> None:
    req = parse_requirement(text)
    assert (req.name, str(req.spec), req.source) == (name, spec, source)
    assert req.raw == text.strip()


def test_requirement_str_and_allows() -> None:
    assert str(parse_requirement("expert-sql")) == "expert-sql"
    assert str(parse_requirement("expert-sql@^1.2")) == "expert-sql@^1.2"
    assert str(parse_requirement("english-legacy<=0.9.0")) == "english-legacy@<=0.9.0"
    git = parse_requirement("github.com/user/expert-json@>=0.4")
    assert str(git) == "github.com/user/expert-json@>=0.4"
    assert git.allows(v("0.4.0")) and not git.allows(v("0.3.9"))
    assert not git.allows(v("0.5.0-rc.1")) and git.allows(v("0.5.0-rc.1"), allow_prerelease=True)
    assert Requirement("expert-a") == parse_requirement("expert-a").__class__("expert-a")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a@>>1", "expected a version range"),
        ("A", "expected a lower-case name"),
        ("-x", "expected a lower-case name"),
        ("ext::sh@1", "'::' transport"),
        ("ext::sh -c touch%20/tmp/pwn", "'::' transport"),
        ("-oProxyCommand=x/expert-x", "may not start with '-'"),
        ("--upload-pack=x:expert-x", "may not start with '-'"),
        ("Expert-SQL@1.0", "expected a lower-case name"),
        ("expert_sql", "expected a lower-case name"),
        ("expert-sql@latest", "expected a lower-case name"),
        ("expert-sql @1.0", "expected a lower-case name"),
        ("e" * 65, "expected a lower-case name"),
        ("github.com/user/Expert-JSON", "not an expert name"),
        ("github.com/u/expert-x@>>1", "expected a version range"),
        ("expert-x@1,", "expected a version range"),
        ("expert-x@1.2.3.4", "expected a version range"),
        ("expert-x@!=1.2", "expected a version range"),
        ("expert-x<=", "expected a version range"),
        ("expert-x@1\u0661.0.0", "expected a version range"),
        ("expert-x@1.2.3-01", "expected a version range"),
    ],
)
def test_bad_requirements_are_precise(text: str, fragment: str) -> None:
    with pytest.raises(InvalidRequirementError) as info:
        parse_requirement(text, field="constraints.requires[2]")
    message = info.value.message
    assert message.startswith("constraints.requires[2]: ")
    assert fragment in message


@pytest.mark.parametrize("value", ["", "   ", None, 5, ["expert-x"]])
def test_requirement_must_be_a_non_empty_string(value: object) -> None:
    with pytest.raises(InvalidRequirementError) as info:
        parse_requirement(value, field="requires[0]")
    assert info.value.message.startswith("requires[0]: expected a requirement such as")
    assert repr(value) in info.value.message


def test_non_ascii_digits_are_not_read_as_numbers() -> None:
    # Regression: with a Unicode \d, "1\u0661" (Arabic-Indic one) parsed as the number 11.
    with pytest.raises(InvalidRequirementError):
        parse_spec("1\u0661.0.0")
    with pytest.raises(InvalidRequirementError):
        parse_spec(">=1.0.\u0662")
