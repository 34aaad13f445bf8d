"""What the older tool's manifests hold that hxpm accepts with a warning and keeps verbatim:
nulls for unset optional fields, bare capabilities, repeated comment keys, pickled soft
prompts. Inputs are the real manifests (tests/fixtures/original-ecosystem) and one derived
shape (tests/fixtures/legacy-dialect, see its README)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hxpm.core.manifest import Manifest
from hxpm.core.manifest_values import DEFAULT_MAX_CHAIN, DEFAULT_PRIORITY
from hxpm.core.strictjson import (
    DuplicateKeyError,
    JsonObject,
    dumps_document,
    loads_keeping_comments,
    loads_strict,
)
from hxpm.errors import IndexDataError, ManifestError
from hxpm.index.model_checks import decode_object

REPO = Path(__file__).resolve().parents[3]
REAL = sorted((REPO / "tests/fixtures/original-ecosystem/manifests").glob("*/manifest.json"))
TWO_COMMENTS = REPO / "tests/fixtures/legacy-dialect/expert-sql-two-comments/manifest.json"


@pytest.mark.parametrize("path", REAL, ids=[p.parent.name for p in REAL])
def test_real_manifest_round_trips(path: Path) -> None:
    original = json.loads(path.read_bytes())
    m = Manifest.load(path)
    assert m.to_dict() == original and list(m.to_dict()) == list(original)
    written = m.to_json_bytes()
    assert written == (json.dumps(original, indent=2, ensure_ascii=False) + "\n").encode()
    again = Manifest.from_bytes(written)
    assert again == m and again.warnings == m.warnings


def test_typescript_bare_capabilities_are_kept_with_a_warning() -> None:
    m = Manifest.load(
        REPO / "tests/fixtures/original-ecosystem/manifests/expert-typescript" / "manifest.json"
    )
    assert m.capabilities == (
        "language:typescript",
        "language:javascript",
        "code-generation",
        "instruct-tuning",
        "task:code-completion",
        "task:code-explanation",
        "task:refactoring",
    )
    [caps, soft] = m.warnings
    assert caps.startswith("capabilities 'code-generation', 'instruct-tuning': no namespace")
    assert soft.startswith(
        "soft_prompts[0].path: soft prompt 'soft_prompts/ts_style_48.bin' "
        "is a PyTorch pickle; hxpm loads soft prompts only as safetensors"
    )
    assert "point soft_prompts[].path at the .safetensors file" in soft


def _older_packager_output() -> dict[str, Any]:
    """expert-tools as the older packager re-serialised it: unset Options become null."""
    doc = json.loads(
        (
            REPO / "tests/fixtures/original-ecosystem/manifests/expert-tools" / "manifest.json"
        ).read_bytes()
    )
    doc.update(license=None, routing=None, integrity=None, base_model=None)
    doc["constraints"]["max_chain"] = None
    doc["base_models"][0]["adapters"].append(
        {"type": "ia3", "r": None, "alpha": None, "target_modules": ["down_proj"]}
    )
    return doc


def test_nulls_read_as_absent_and_are_kept() -> None:
    doc = _older_packager_output()
    m = Manifest.from_dict(doc)
    assert (m.license, m.routing, m.max_chain) == (None, None, DEFAULT_MAX_CHAIN)
    assert m.requires[0].name == "expert-json"
    ia3 = m.variants[0].adapters[1]
    assert (ia3.type, ia3.r, ia3.alpha) == ("ia3", None, None)
    [note] = [w for w in m.warnings if w.startswith("null read as absent")]
    for path in (
        "license",
        "base_model",
        "constraints.max_chain",
        "routing",
        "base_models[0].adapters[1].r",
        "base_models[0].adapters[1].alpha",
    ):
        assert path in note
    assert "integrity" not in note  # not a field hxpm reads: carried, nothing to say
    written = json.loads(m.to_json_bytes())
    assert written == doc and written["routing"] is None and written["license"] is None


def test_null_routing_fields_take_their_defaults() -> None:
    doc = _older_packager_output()
    doc["routing"] = {"keywords": ["tool"], "exclude_keywords": None, "priority": None}
    routing = Manifest.from_dict(doc).routing
    assert routing is not None
    assert (routing.keywords, routing.exclude_keywords, routing.priority) == (
        ("tool",),
        (),
        DEFAULT_PRIORITY,
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", None),
        ("version", None),
        ("base_models", None),
    ],
)
def test_required_fields_may_not_be_null(path: str, value: Any) -> None:
    doc = _older_packager_output()
    doc[path] = value
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(doc)
    assert path in [p for p, _, _ in info.value.problems]


def test_lora_rank_may_not_be_null() -> None:
    doc = _older_packager_output()
    doc["base_models"][0]["adapters"][0]["r"] = None
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(doc)
    assert info.value.problems == [
        ("base_models[0].adapters[0].r", None, "an integer from 1 to 256 for dora")
    ]


# --- repeated comment keys --------------------------------------------------------------------


def test_two_comments_in_training_dataset_are_kept_in_place() -> None:
    raw = TWO_COMMENTS.read_bytes()
    m = Manifest.from_bytes(raw)
    expected = (
        "training.dataset._comment: comment key repeated 2 times; accepted and every "
        "copy kept (the older expert-cli's authors repeat comment keys)"
    )
    assert m.warnings == (expected,)
    dataset = m.raw["training"]["dataset"]
    assert isinstance(dataset, JsonObject)
    assert dataset["_comment"].startswith("Multi-source")  # the last one, as json.loads has it
    text = m.to_json_bytes().decode()
    comments = [
        line.strip()
        for line in text.splitlines()
        if '"_comment": "' in line and ("Single-source" in line or "Multi-source" in line)
    ]
    assert [c.split(":")[1].strip()[:7] for c in comments] == ['"Single', '"Multi-']
    # Everything else is what the real expert-sql manifest says.
    plain = json.loads(text)
    real = json.loads(
        (
            REPO / "tests/fixtures/original-ecosystem/manifests/expert-sql" / "manifest.json"
        ).read_bytes()
    )
    assert plain == real
    assert Manifest.from_bytes(text.encode()).to_json_bytes().decode() == text


def test_repeated_comments_survive_reduction_to_one_variant() -> None:
    doc = json.loads(TWO_COMMENTS.read_bytes())  # a dict: one dataset _comment is left
    second = copy.deepcopy(doc["base_models"][0])
    second["name"] = "hxpm/tiny-qwen3"
    doc["base_models"].append(second)
    text = json.dumps(doc, indent=2).replace(
        '"name": "expert-sql",', '"_comment": "one", "name": "expert-sql", "_comment": "two",'
    )
    m = Manifest.from_bytes(text.encode())
    assert [w.split(":")[0] for w in m.warnings] == ["_comment"]
    reduced = m.reduced_to("Qwen/Qwen3-0.6B")
    out = reduced.to_json_bytes().decode()
    assert (
        out.index('"_comment": "one"')
        < out.index('"name": "expert-sql"')
        < out.index('"_comment": "two"')
    )
    assert json.loads(out)["base_models"] == [doc["base_models"][0]]
    assert out.count("Multi-source dataset") == 1
    assert m.to_dict()["_comment"] == "two" and "tiny" in m.to_json_bytes().decode()


def test_three_copies_and_nested_lists() -> None:
    text = '{"a": [{"_c": 1, "x": 2, "_c": [3], "_c": null}], "_c": "top", "_d": {}}'
    value, dups = loads_keeping_comments(text)
    assert [(d.path, d.count) for d in dups] == [("a[0]._c", 3)]
    assert json.loads(dumps_document(value)) == json.loads(text)
    assert dumps_document(value) == (
        '{\n  "a": [\n    {\n      "_c": 1,\n      "x": 2,\n      "_c": [\n        3\n      ],'
        '\n      "_c": null\n    }\n  ],\n  "_c": "top",\n  "_d": {}\n}'
    )
    copied = copy.deepcopy(value)
    assert dumps_document(copied) == dumps_document(value)


@pytest.mark.parametrize("path", REAL, ids=[p.parent.name for p in REAL])
def test_writer_matches_json_dumps_without_duplicates(path: Path) -> None:
    value, dups = loads_keeping_comments(path.read_text(encoding="utf-8"))
    assert dups == ()
    assert dumps_document(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_only_comment_keys_may_repeat_in_a_manifest() -> None:
    with pytest.raises(DuplicateKeyError) as info:
        loads_keeping_comments('{"training": {"dataset": {"_c": 1, "path": "a", "path": "b"}}}')
    assert (info.value.key, info.value.path) == ("path", "training.dataset.path")


def test_index_lines_still_refuse_repeated_comment_keys() -> None:
    with pytest.raises(DuplicateKeyError):
        loads_strict('{"name": "expert-sql", "_comment": 1, "_comment": 2}')
    with pytest.raises(IndexDataError, match="'_comment' twice"):
        decode_object(
            '{"name": "expert-sql", "_comment": 1, "_comment": 2}', "line 1", "an index line"
        )


def test_the_router_matches_bare_capabilities_whole() -> None:
    from hxpm.routing.router import RouteCandidate, route

    m = Manifest.load(
        REPO / "tests/fixtures/original-ecosystem/manifests/expert-typescript" / "manifest.json"
    )
    cand = RouteCandidate(m.name, str(m.version), capabilities=m.capabilities)
    decision = route("code-generation for this module, please", [cand])
    [score] = decision.scores
    assert score.capability_hits == ("code-generation",)


def test_a_repeated_comment_too_deep_is_refused_cleanly() -> None:
    deep = "[" * 100 + "]" * 100
    text = json.dumps(json.loads(TWO_COMMENTS.read_bytes())).replace(
        '"dataset": {', f'"dataset": {{"_comment": {deep}, ', 1
    )
    with pytest.raises(ManifestError) as info:
        Manifest.from_bytes(text.encode())
    assert "at most 64 levels of nesting" in info.value.message
