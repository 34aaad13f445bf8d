"""scripts/oldest_pins.py: the pins `make test-oldest` installs, read from pyproject.toml."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("oldest_pins", ROOT / "scripts/oldest_pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_declared_dependency_has_a_lower_bound(capsys):
    assert _script().main(["runtime", "serve", "dev", "--skip", "torch"]) == 0
    pins = capsys.readouterr().out.split()
    names = {p.split("==")[0] for p in pins}
    assert {"dulwich", "peft", "transformers", "typer", "urllib3", "huggingface-hub"} <= names
    assert "torch" not in names and "tomli-w" not in names
    assert all(p.count("==") == 1 and p.split("==")[1][0].isdigit() for p in pins)


def test_lower_bounds_are_taken_from_the_specifiers():
    pins = _script().lower_pins(
        ["a>=1.2,<2", "B_c[x]>=0.3 ; python_version>'3'", "d==4.0"], skip=set()
    )
    assert pins == ["a==1.2", "b-c==0.3", "d==4.0"]


@pytest.mark.parametrize("requirement", ["a", "a<2", "a~=1.0"])
def test_a_requirement_without_a_lower_bound_is_refused(requirement):
    with pytest.raises(ValueError, match="no lower bound"):
        _script().lower_pins([requirement], skip=set())
