"""The layers of docs/architecture.md, checked on the source: imports flow one way.

Every module under hxpm/ is parsed (not imported) and each `import hxpm.…` / `from hxpm…`
it contains, at any depth (lazy imports inside functions count too), is checked against
what its layer may import. A new upward import fails here with the module and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "hxpm"

DOMAIN = (
    "hxpm.datasets",
    "hxpm.index",
    "hxpm.package",
    "hxpm.resolve",
    "hxpm.routing",
    "hxpm.store",
    "hxpm.trust_policy",
    "hxpm.transport",
    "hxpm.http",
    "hxpm._httpfetch",
    "hxpm._httppart",
    "hxpm._httpsession",
    "hxpm.netlimits",
    "hxpm.tls",
)
ABOVE_DOMAIN = ("hxpm.services", "hxpm.cli", "hxpm.serve", "hxpm.api", "hxpm.runtime")

# layer prefix -> prefixes it must never import
FORBIDDEN: dict[tuple[str, ...], tuple[str, ...]] = {
    ("hxpm.core", "hxpm.errors"): ("hxpm.",),
    ("hxpm.runtime",): ABOVE_DOMAIN[:-1] + DOMAIN,
    DOMAIN: ABOVE_DOMAIN,
    ("hxpm.services",): ("hxpm.cli", "hxpm.serve", "hxpm.api"),
    ("hxpm.api",): ("hxpm.cli", "hxpm.serve"),
    ("hxpm.serve",): ("hxpm.cli",),
}
# what each restricted layer may still import from hxpm
ALLOWED: dict[str, tuple[str, ...]] = {
    "hxpm.core": ("hxpm.core", "hxpm.errors"),
    "hxpm.errors": (),
    # the runtime trains on records read by hxpm.datasets (torch-free readers and values)
    "hxpm.runtime": ("hxpm.runtime", "hxpm.datasets", "hxpm.core", "hxpm.errors"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return [(line, name) for line, name in found if name == "hxpm" or name.startswith("hxpm.")]


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def _violations() -> list[str]:
    bad: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        for line, target in _imports(path, module):
            for layer, forbidden in FORBIDDEN.items():
                if _in(module, layer) and _in(target, forbidden):
                    allowed = next((v for k, v in ALLOWED.items() if _in(module, (k,))), None)
                    if allowed is not None and _in(target, allowed):
                        continue
                    bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {module} imports {target}")
    return bad


def test_imports_flow_one_way() -> None:
    assert _violations() == []


def test_the_checker_sees_a_lazy_upward_import(tmp_path: Path) -> None:
    # The rule table must catch a runtime module importing a service inside a function.
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from hxpm.services import run\n", encoding="utf-8")
    found = _imports(probe, "hxpm.runtime.probe")
    assert found == [(2, "hxpm.services")]
    assert _in(found[0][1], FORBIDDEN[("hxpm.runtime",)])
