"""The error table in docs/errors.md matches the code."""

from __future__ import annotations

from pathlib import Path

from hxpm.errors import ERROR_FAMILIES, HxpmError, ManifestError

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_family_is_documented_with_its_code_and_exit():
    text = DOC.read_text()
    for cls in ERROR_FAMILIES:
        row = f"| `{cls.__name__}` | "
        line = next((ln for ln in text.splitlines() if ln.startswith(row)), None)
        assert line is not None, f"{cls.__name__} missing from docs/errors.md"
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] == f"`{cls.code}`" and cells[3] == str(cls.exit_code), line


def test_exit_codes_are_the_designed_ones():
    assert {c.exit_code for c in ERROR_FAMILIES} == {1, 2, 3, 4, 5, 6, 7}
    assert all(issubclass(c, HxpmError) for c in ERROR_FAMILIES)


def test_error_json_shape():
    err = ManifestError("bad", problems=[("name", "X", "a lower-case name")])
    d = err.to_dict()
    assert d["error"] == "invalid-manifest" and d["exit_code"] == 1
    assert d["details"]["problems"] == [
        {"path": "name", "value": "X", "expected": "a lower-case name"}
    ]
