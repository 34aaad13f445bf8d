#!/usr/bin/env python3
"""Print ``name==lower-bound`` for every dependency in pyproject.toml (``make test-oldest``).

Reads [project] dependencies and the extras named on the command line. Every requirement
must state a lower bound (``>=``); one without is an error, since the oldest-versions job
could not say which version it tests. ``--skip NAME`` leaves a package out (torch: the
Makefile installs the CPU build named by TORCH_SPEC instead). Exact pins (``==``) are kept.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name[extras] then the specifiers; environment markers (after ';') are not used here.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


def lower_pins(requirements: list[str], skip: set[str]) -> list[str]:
    """``name==version`` for each requirement, from its ``>=`` (or ``==``) specifier."""
    pins: dict[str, str] = {}
    for text in requirements:
        match = _REQUIREMENT.match(text)
        if match is None:
            raise ValueError(f"cannot read requirement {text!r}")
        name, specs = _normalized(match.group(1)), match.group(3)
        if name in skip:
            continue
        bound = re.search(r"(?:>=|==)\s*([0-9][A-Za-z0-9.]*)", specs)
        if bound is None:
            raise ValueError(
                f"requirement {text!r} has no lower bound (>=): state the oldest supported version"
            )
        if pins.get(name, bound.group(1)) != bound.group(1):
            raise ValueError(f"{name} is required with two different lower bounds")
        pins[name] = bound.group(1)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="*", help="optional-dependency groups to include")
    parser.add_argument("--skip", action="append", default=[], help="package to leave out")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args(argv)
    project = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    groups = project.get("optional-dependencies", {})
    for extra in args.extras:
        if extra not in groups:
            parser.error(f"no optional-dependency group {extra!r} in {args.pyproject}")
        requirements += groups[extra]
    try:
        pins = lower_pins(requirements, {_normalized(s) for s in args.skip})
    except ValueError as e:
        print(f"oldest_pins: {e}", file=sys.stderr)
        return 1
    print("\n".join(pins))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
