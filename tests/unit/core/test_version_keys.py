"""Versions compare by plain tuple keys (hxpm/core/versions.py) with exactly the semantics
they had as ``semver`` objects: the same strings accepted, the same order, equality, hash,
text, and the same ranges matching the same versions.

The reference is the semver library itself, which the module used to wrap: every property
is checked on thousands of random strings, hostile ones included (leading zeros, 255-digit
numbers, non-ASCII digits, empty identifiers, whitespace).
"""

from __future__ import annotations

import itertools
import random

import pytest
import semver

from hxpm.core.versions import MAX_VERSION_CHARS, Version, parse_spec
from hxpm.errors import InvalidRequirementError

NUMBERS = ["0", "0", "1", "1", "2", "9", "10", "01", "00", "123", "9" * 30, "1" * 250, "\u0661"]
IDENTIFIERS = [
    "rc",
    "rc",
    "rc1",
    "0",
    "1",
    "1",
    "2",
    "11",
    "alpha",
    "01",
    "a-b",
    "-",
    "x",
    "",
    "Z",
    "é",
    "beta",
]


def _number(rnd: random.Random) -> str:
    return rnd.choice(NUMBERS)


def _dotted(rnd: random.Random, n: int) -> str:
    return ".".join(rnd.choice(IDENTIFIERS) for _ in range(n))


def random_version_text(rnd: random.Random) -> str:
    text = ".".join(_number(rnd) for _ in range(rnd.choice((2, 3, 3, 3, 3, 4))))
    if rnd.random() < 0.5:
        text += "-" + _dotted(rnd, rnd.randint(1, 4))
    if rnd.random() < 0.2:
        text += "+" + _dotted(rnd, rnd.randint(1, 3))
    if rnd.random() < 0.05:
        text = rnd.choice((" ", "v", "\t")) + text + rnd.choice(("", " ", "\n"))
    return text


def _old_parse(text: str) -> semver.Version | None:
    """What ``Version.parse`` accepted when it wrapped semver (None: refused)."""
    stripped = text.strip()
    if len(stripped) > MAX_VERSION_CHARS:
        return None
    try:
        return semver.Version.parse(stripped)
    except (ValueError, TypeError):
        return None


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@pytest.mark.parametrize("seed", range(8))
def test_the_same_strings_parse_to_the_same_versions(seed: int) -> None:
    rnd = random.Random(seed)
    parsed: list[tuple[Version, semver.Version]] = []
    for _ in range(600):
        text = random_version_text(rnd)
        old = _old_parse(text)
        if old is None:
            with pytest.raises(InvalidRequirementError):
                Version.parse(text)
            continue
        new = Version.parse(text)
        assert str(new) == str(old)
        assert new.release == (old.major, old.minor, old.patch)
        assert new.is_prerelease == (old.prerelease is not None)
        assert new.value.compare(old) == 0 and str(new.value) == str(old)
        parsed.append((new, old))
    assert len(parsed) > 90  # the generator yields valid versions too
    for (a, old_a), (b, old_b) in itertools.product(parsed[:80], repeat=2):
        c = _sign(old_a.compare(old_b))
        assert (a < b, a == b, a > b, a <= b, a >= b) == (c < 0, c == 0, c > 0, c <= 0, c >= 0)
        if a == b:
            assert hash(a) == hash(b)


@pytest.mark.parametrize(
    "parts",
    [
        (10**254, 0, 0, None),
        (10**251, 0, 0, None),
        (10**250, 0, 0, "rc"),
        (int("9" * 251), 1, 0, None),
        (0, 10**252, 0, None),
        (1, 2, 3, "x" * 249),
        (1, 2, 3, "x" * 250),
    ],
)
def test_the_length_cap_on_built_versions_is_semvers(parts: tuple[int, int, int, str]) -> None:
    try:
        semver.Version(*parts)
        refused = False
    except ValueError:
        refused = True
    if refused:
        with pytest.raises(ValueError):
            Version(*parts)
    else:
        assert str(Version(*parts)) == str(semver.Version(*parts))


OPS = ["", "=", "==", "!=", ">=", "<=", ">", "<", "^", "~"]
PARTIALS = ["1", "1.2", "1.2.3", "0", "0.0", "0.0.3", "0.2", "1.x", "1.2.*", "2.0.0-rc.1", "*"]


def _old_allows(spec_text: str, version: Version, allow_prerelease: bool) -> bool:
    """``VersionSpec.allows`` evaluated with semver's compare, as the module did before."""
    spec = parse_spec(spec_text)
    old = semver.Version.parse(str(version))
    for c in spec.comparators:
        d = old.compare(semver.Version.parse(str(c.version)))
        ok = {">=": d >= 0, "<=": d <= 0, ">": d > 0, "<": d < 0, "==": d == 0, "!=": d != 0}
        if not ok[c.op]:
            return False
    if old.prerelease is None or allow_prerelease:
        return True
    return any(
        c.version.is_prerelease and c.version.release == version.release for c in spec.comparators
    )


@pytest.mark.parametrize("seed", range(4))
def test_ranges_match_the_same_versions(seed: int) -> None:
    rnd = random.Random(seed)
    texts = "0.0.1 0.0.3 0.2.0 0.2.5 1.0.0 1.2.0 1.2.3 1.2.4 1.3.0-rc.1 1.10.0 2.0.0-alpha"
    versions = [Version.parse(t) for t in (*texts.split(), "2.0.0-rc.1", "2.0.0", "3.1.0")]
    for _ in range(150):
        text = ",".join(rnd.choice(OPS) + rnd.choice(PARTIALS) for _ in range(rnd.randint(1, 2)))
        try:
            spec = parse_spec(text)
        except InvalidRequirementError:
            continue
        for version, pre in itertools.product(versions, (False, True)):
            assert spec.allows(version, allow_prerelease=pre) == _old_allows(text, version, pre)
