"""The index data model: shard paths, config.json, version lines, expert files
(docs/architecture.md §5).

Every line here carries a real Ed25519 signature made with a fresh key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from hxpm.core.manifest import Manifest
from hxpm.errors import IndexDataError
from hxpm.index.config import INDEX_FORMAT, IndexConfig, IndexKey
from hxpm.index.expert_file import parse_expert_file, render_expert_file
from hxpm.index.manifest_line import line_from_manifest
from hxpm.index.model import SourceRef, VariantEntry, VersionLine, shard_path
from hxpm.package.signing import generate_secret_key
from tests.factories import manifest_dict
from tests.unit.index import BASE, COMMIT, KEY, h, line_doc, line_text, make_line, variant_doc

WHERE = "experts/ex/pe/expert-sql line 3"


def parse_doc(doc: dict[str, Any]) -> VersionLine:
    return VersionLine.parse(json.dumps(doc), where=WHERE)


def refused(doc_or_text: dict[str, Any] | str | bytes) -> IndexDataError:
    text = doc_or_text if isinstance(doc_or_text, (str, bytes)) else json.dumps(doc_or_text)
    with pytest.raises(IndexDataError) as info:
        VersionLine.parse(text, where=WHERE)
    assert info.value.message.startswith(WHERE + ": "), info.value.message
    assert info.value.exit_code == 5
    return info.value


# --- shard paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a", "experts/1/a"),
        ("ab", "experts/2/ab"),
        ("abc", "experts/3/a/abc"),
        ("abcd", "experts/ab/cd/abcd"),
        ("expert-sql", "experts/ex/pe/expert-sql"),
        ("x1-y", "experts/x1/-y/x1-y"),
    ],
)
def test_shard_paths_follow_cargo_tiers(name: str, path: str) -> None:
    assert shard_path(name) == path


@pytest.mark.parametrize("name", ["", "A", "../x", "expert/sql", "-x", "x" * 65, "ex pert"])
def test_shard_path_refuses_what_is_not_a_name(name: str) -> None:
    with pytest.raises(IndexDataError, match="expert name"):
        shard_path(name)


# --- config.json ---------------------------------------------------------------------------


def key_entry(**fields: Any) -> tuple[str, dict[str, Any]]:
    entry: dict[str, Any] = {
        "public_key": KEY.public_key.text,
        "owner": "Acme Labs",
        "experts": ["expert-sql", "expert-j*"],
    }
    entry.update(fields)
    return KEY.public_key.key_id, entry


def config_doc(**fields: Any) -> dict[str, Any]:
    key_id, entry = key_entry()
    doc: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "name": "acme",
        "description": "Acme experts",
        "keys": {key_id: entry},
    }
    doc.update(fields)
    return doc


def config_error(doc: dict[str, Any]) -> IndexDataError:
    with pytest.raises(IndexDataError) as info:
        IndexConfig.from_bytes(json.dumps(doc).encode())
    assert info.value.message.startswith("config.json: ")
    return info.value


def test_config_round_trip_keeps_unknown_fields_and_is_deterministic() -> None:
    doc = config_doc(mirror_of="https://example.org/index", extra={"a": [1, 2]})
    config = IndexConfig.from_bytes(json.dumps(doc).encode())
    assert config.name == "acme" and config.description == "Acme experts"
    (key,) = config.keys
    assert key == IndexKey(
        KEY.public_key.key_id, KEY.public_key.text, "Acme Labs", ("expert-sql", "expert-j*")
    )
    data = config.to_bytes()
    assert data.endswith(b"}\n") and b"\n  " in data
    assert IndexConfig.from_bytes(data) == config
    assert IndexConfig.from_bytes(data).to_bytes() == data
    assert json.loads(data)["extra"] == {"a": [1, 2]}


def test_new_config_with_and_without_keys() -> None:
    config = IndexConfig.new("demo", "The demo index")
    assert config.keys == () and json.loads(config.to_bytes())["format"] == INDEX_FORMAT
    other = generate_secret_key()
    keys = [IndexKey(k.public_key.key_id, k.public_key.text, "Owner", ("*",)) for k in (KEY, other)]
    grown = config.with_key(keys[1]).with_key(keys[0])
    assert [k.key_id for k in grown.keys] == sorted(k.key_id for k in keys)
    assert list(json.loads(grown.to_bytes())["keys"]) == sorted(k.key_id for k in keys)
    assert grown.without_key(keys[0].key_id).keys == (keys[1],)
    assert IndexConfig.from_bytes(grown.to_bytes()) == grown


def test_keys_for_matches_scopes() -> None:
    config = IndexConfig.from_bytes(json.dumps(config_doc()).encode())
    assert config.keys_for("expert-sql") == config.keys
    assert config.keys_for("expert-json") == config.keys
    assert config.keys_for("expert-python") == ()


def test_config_key_id_must_be_the_id_of_the_key() -> None:
    other = generate_secret_key()
    _, entry = key_entry(public_key=other.public_key.text)
    err = config_error(config_doc(keys={KEY.public_key.key_id: entry}))
    assert f"keys.{KEY.public_key.key_id}.key_id" in err.message
    assert other.public_key.key_id in err.message  # says which id the key really has


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"format": "hxpm-index/2"}, "format", "'hxpm-index/1'"),
        ({"format": None}, "format", "missing"),
        ({"name": ""}, "name", "printable"),
        ({"name": 7}, "name", "printable"),
        ({"description": ["x"]}, "description", "string"),
        ({"keys": []}, "keys", "JSON object"),
    ],
)
def test_config_fields_are_checked(change: dict[str, Any], field: str, expected: str) -> None:
    doc = config_doc(**change)
    if change.get("format", "") is None:
        del doc["format"]
    err = config_error(doc)
    assert f"{field}:" in err.message and expected in err.message


def test_newer_config_format_says_upgrade() -> None:
    assert "Upgrade hxpm" in (config_error(config_doc(format="hxpm-index/2")).hint or "")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"public_key": "ed25519:abc"}, "public_key"),
        ({"public_key": KEY.public_key.text + "\n# comment"}, "public_key"),
        ({"owner": " padded "}, "owner"),
        ({"owner": ""}, "owner"),
        ({"experts": []}, "experts"),
        ({"experts": ["expert_[sql]"]}, "experts[0]"),
        ({"experts": ["Expert-SQL"]}, "experts[0]"),
        ({"experts": "expert-*"}, "experts"),
    ],
)
def test_config_key_entries_are_checked(fields: dict[str, Any], field: str) -> None:
    key_id, entry = key_entry(**fields)
    err = config_error(config_doc(keys={key_id: entry}))
    assert f"keys.{key_id}.{field}" in err.message


def test_config_key_without_experts_is_refused() -> None:
    key_id, entry = key_entry()
    del entry["experts"]
    assert "experts: expected" in config_error(config_doc(keys={key_id: entry})).message


DUPLICATE_FORMAT = b'{"format":"hxpm-index/1","format":"hxpm-index/1","name":"x"}'


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", DUPLICATE_FORMAT, b"\xff\xfe"])
def test_config_that_is_not_a_json_object_is_refused(data: bytes) -> None:
    with pytest.raises(IndexDataError, match=r"^config\.json: "):
        IndexConfig.from_bytes(data)


# --- version lines: happy paths --------------------------------------------------------------


def test_line_fields_and_exact_round_trip() -> None:
    text = line_text(
        requires=["expert-json@>=0.4", "english-legacy<=0.9.0"],
        incompatible_with=["expert-sql-legacy"],
    )
    line = VersionLine.parse(text, where=WHERE)
    assert line.name == "expert-sql" and str(line.version) == "0.3.0"
    assert line.source == SourceRef("https://github.com/acme/expert-sql", "v0.3.0", COMMIT)
    assert [r.name for r in line.requires] == ["expert-json", "english-legacy"]
    assert [r.name for r in line.incompatible_with] == ["expert-sql-legacy"]
    assert (line.load_order, line.max_chain, line.priority) == (5, 10, 0.5)
    assert line.capabilities == ("tech:sql",) and line.keywords == ("sql",)
    assert line.variants[0].key_id == KEY.public_key.key_id
    assert line.yanked is False
    assert line.to_json_line() == text  # byte for byte: hxpm writes compact JSON
    assert VersionLine.parse(line.to_json_line(), where=WHERE) == line
    assert "\n" not in line.to_json_line()


def test_unknown_fields_are_kept_at_every_level() -> None:
    doc = line_doc(license="MIT", future={"deep": [1, {"x": None}]})
    doc["source"]["subdir"] = "experts/sql"
    doc["routing"]["embedding"] = [0.1, 0.2]
    doc["variants"][0]["mirrors"] = ["https://mirror.example/x.expert"]
    line = parse_doc(doc)
    again = json.loads(line.to_json_line())
    assert again == doc
    assert line.raw == doc
    yanked = json.loads(line.with_yanked(True).to_json_line())
    assert yanked == {**doc, "yanked": True}


def test_minimal_line_gets_defaults_and_is_written_back_unchanged() -> None:
    doc = line_doc()
    for key in (
        "description",
        "requires",
        "incompatible_with",
        "load_order",
        "max_chain",
        "capabilities",
        "routing",
        "yanked",
    ):
        del doc[key]
    del doc["variants"][0]["url"]
    text = json.dumps(doc, separators=(",", ":"))
    line = VersionLine.parse(text, where=WHERE)
    assert (line.description, line.requires, line.load_order, line.max_chain) == ("", (), 0, 10)
    assert (line.keywords, line.priority, line.yanked) == ((), 0.5, False)
    assert line.variants[0].url is None
    assert line.to_json_line() == text
    assert VersionLine.parse(line.to_json_line(), where=WHERE) == line


def test_url_variant_and_unicode_description_round_trip() -> None:
    variant = variant_doc(
        "expert-sql",
        "0.3.0",
        path=None,
        url="https://github.com/acme/expert-sql/releases/download/v0.3.0/x",
    )
    description = "Requêtes SQL — 日本語 \u2028 ok"
    line = parse_doc(line_doc(description=description, variants=[variant]))
    assert line.variants[0].path is None and line.variants[0].url is not None
    assert VersionLine.parse(line.to_json_line().encode("utf-8"), where=WHERE) == line


def test_with_yanked_changes_only_yanked() -> None:
    line = make_line()
    yanked = line.with_yanked(True)
    assert yanked.yanked and not line.yanked
    assert yanked.to_json_line() == line.to_json_line().replace('"yanked":false', '"yanked":true')
    assert VersionLine.parse(yanked.to_json_line(), where=WHERE) == yanked
    assert yanked.with_yanked(False) == line


def test_variant_for_exact_then_slug() -> None:
    line = make_line(bases=(BASE, "hxpm/tiny-qwen3"))
    assert line.variant_for(BASE) is line.variants[0]
    assert line.variant_for("hxpm/tiny-qwen3") is line.variants[1]
    assert line.variant_for("/models/Qwen3-0.6B") is line.variants[0]  # same slug
    assert line.variant_for("meta/Llama-3") is None
    assert line.variant_for("///") is None


# --- version lines: every field is checked ---------------------------------------------------


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value


_DELETE = object()

FIELD_CASES: list[tuple[str, Any, str, str]] = [
    # (path to set, value, field named in the message, words of the expectation)
    ("name", "Expert-SQL", "name", "lower-case name"),
    ("name", _DELETE, "name", "missing"),
    ("version", "1.0", "version", "SemVer"),
    ("version", "v0.3.0", "version", "SemVer"),
    ("version", " 0.3.0", "version", "canonical"),
    ("version", 3, "version", "SemVer"),
    ("description", 5, "description", "a string"),
    ("source", _DELETE, "source", "JSON object"),
    ("source", "https://github.com/acme/x", "source", "JSON object"),
    ("source.git", "-oProxyCommand=evil", "source.git", "Git repository URL"),
    ("source.git", "ext::sh -c touch% /tmp/pwned", "source.git", "Git repository URL"),
    ("source.git", "", "source.git", "Git repository URL"),
    ("source.tag", "", "source.tag", "tag"),
    ("source.tag", "-v1", "source.tag", "tag"),
    ("source.tag", "v1..2", "source.tag", "tag"),
    ("source.commit", "ABCDEF" + "0" * 34, "source.commit", "40 lower-case hex"),
    ("source.commit", "abc", "source.commit", "40 lower-case hex"),
    ("source.commit", _DELETE, "source.commit", "missing"),
    ("requires", "expert-json", "requires", "list of requirement strings"),
    ("requires", ["expert json!!"], "requires[0]", "requirement"),
    ("requires", [5], "requires[0]", "requirement"),
    ("incompatible_with", ["expert-x@>=banana"], "incompatible_with[0]", "requirement"),
    ("load_order", -1, "load_order", "integer >= 0"),
    ("load_order", "6", "load_order", "integer"),
    ("load_order", True, "load_order", "integer"),
    ("load_order", 1.5, "load_order", "integer"),
    ("max_chain", 0, "max_chain", "integer from 1 to 64"),
    ("max_chain", 65, "max_chain", "integer from 1 to 64"),
    ("capabilities", ["tech sql"], "capabilities[0]", "namespace:value"),
    ("capabilities", [":sql"], "capabilities[0]", "namespace:value"),
    ("capabilities", "tech:sql", "capabilities", "list of strings"),
    ("routing", "sql", "routing", "JSON object"),
    ("routing.keywords", [""], "routing.keywords[0]", "non-blank"),
    ("routing.exclude_keywords", [3], "routing.exclude_keywords[0]", "non-blank"),
    ("routing.priority", 1.5, "routing.priority", "number from 0 to 1"),
    ("routing.priority", "high", "routing.priority", "number from 0 to 1"),
    ("variants", [], "variants", "non-empty list"),
    ("variants", _DELETE, "variants", "missing"),
    ("variants", ["x"], "variants[0]", "variant object"),
    ("variants.0.base_model", "", "variants[0].base_model", "base model name"),
    ("variants.0.base_model", "///", "variants[0].base_model", "base model name"),
    ("variants.0.base_sha256", "xyz", "variants[0].base_sha256", "64 lower-case hex"),
    ("variants.0.path", "../outside.expert", "variants[0].path", "relative path"),
    ("variants.0.path", "/etc/passwd", "variants[0].path", "relative path"),
    ("variants.0.path", "dist//x.expert", "variants[0].path", "relative path"),
    ("variants.0.path", "dist/./x.expert", "variants[0].path", "relative path"),
    ("variants.0.path", "C:/x.expert", "variants[0].path", "relative path"),
    ("variants.0.path", "dist\\x.expert", "variants[0].path", "relative path"),
    ("variants.0.path", "dist/x\n.expert", "variants[0].path", "relative path"),
    ("variants.0.path", None, "variants[0].path", "exactly one of path and url"),
    (
        "variants.0.url",
        "https://example.org/x.expert",
        "variants[0].path",
        "exactly one of path and url",
    ),
    ("variants.0.size", 0, "variants[0].size", "integer >= 1"),
    ("variants.0.size", "4096", "variants[0].size", "integer >= 1"),
    ("variants.0.size", True, "variants[0].size", "integer >= 1"),
    ("variants.0.size", _DELETE, "variants[0].size", "missing"),
    ("variants.0.sha256", "A" * 64, "variants[0].sha256", "64 lower-case hex"),
    ("variants.0.tree_sha256", "0" * 63, "variants[0].tree_sha256", "64 lower-case hex"),
    ("variants.0.signature", "not a signature", "variants[0].signature", ".sig file"),
    ("variants.0.signature", 5, "variants[0].signature", ".sig file"),
    ("yanked", "no", "yanked", "true or false"),
    ("yanked", 0, "yanked", "true or false"),
]


@pytest.mark.parametrize(("path", "value", "field", "expected"), FIELD_CASES)
def test_every_field_is_checked_with_a_precise_message(
    path: str, value: Any, field: str, expected: str
) -> None:
    doc = line_doc()
    _set(doc, path, value)
    err = refused(doc)
    assert f"{WHERE}: {field}: " in err.message, err.message
    assert expected in err.message, err.message
    assert err.details["field"] == field
    if value is _DELETE:
        assert err.message.endswith("missing")
    elif not isinstance(value, (dict, list)):
        assert repr(value)[:40] in err.message  # the value itself is shown


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x.expert",
        "https://",
        "file:///etc/passwd",
        "https://exa mple.org/x",
        "//example.org/x",
        "javascript:alert(1)",
    ],
)
def test_variant_url_must_be_http(url: str) -> None:
    doc = line_doc()
    doc["variants"][0].update(path=None, url=url)
    assert "variants[0].url: expected an https:// or http:// URL" in refused(doc).message


def test_variants_with_the_same_slug_are_refused() -> None:
    doc = line_doc(bases=(BASE, "other/qwen3_0.6b"))
    assert "variants[1].base_model" in refused(doc).message


# --- line format, JSON itself ----------------------------------------------------------------


def test_newer_line_format_asks_for_an_upgrade() -> None:
    err = refused(line_doc(v=2, brand_new_field={"x": 1}))
    assert "index line format v=2 is newer than this hxpm understands; upgrade hxpm" in err.message
    assert "Upgrade hxpm" in (err.hint or "")


@pytest.mark.parametrize("v", [0, "1", True, 1.0, None, _DELETE])
def test_line_format_must_be_the_integer_1(v: Any) -> None:
    doc = line_doc()
    _set(doc, "v", v)
    err = refused(doc)
    assert "v: expected the integer 1" in err.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"a string"', "JSON object"),
        ('{"v":1,"v":1}', "each key at most once"),
        ('{"v":1,"name":NaN}', "not valid JSON"),
        ('{"v":1,"load_order":1e999}', "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_what_is_not_a_json_object_is_refused(text: str | bytes, words: str) -> None:
    assert words in refused(text).message


def test_lone_surrogate_escape_is_refused() -> None:
    text = line_text().replace('"description":"', '"description":"\\ud800', 1)
    assert "lone surrogates" in refused(text).message


def test_escaped_surrogate_pair_is_fine() -> None:
    text = line_text().replace('"description":"', '"description":"\\ud83d\\ude00 ', 1)
    assert VersionLine.parse(text, where=WHERE).description.startswith("\U0001f600 ")


def test_huge_line_is_refused_before_parsing() -> None:
    text = line_text(description="x" * (1 << 20))
    assert "at most" in refused(text).message


# --- the embedded signature must be this line's ----------------------------------------------


@pytest.mark.parametrize(
    ("signed_as", "words"),
    [
        (("expert-json", "0.3.0"), "a signature for expert-sql 0.3.0"),
        (("expert-sql", "0.2.0"), "a signature for expert-sql 0.3.0"),
    ],
)
def test_signature_for_another_package_is_refused(signed_as: tuple[str, str], words: str) -> None:
    doc = line_doc(variants=[variant_doc("expert-sql", "0.3.0", signed_as=signed_as)])
    err = refused(doc)
    assert "variants[0].signature" in err.message and words in err.message
    assert f"{signed_as[0]} {signed_as[1]}" in err.message


@pytest.mark.parametrize("field", ["sha256", "tree_sha256", "base_sha256"])
def test_signature_over_other_bytes_is_refused(field: str) -> None:
    doc = line_doc()
    doc["variants"][0][field] = h("something else")
    err = refused(doc)
    assert "variants[0].signature" in err.message and field in err.message


def test_signature_for_another_base_model_is_refused() -> None:
    doc = line_doc()
    other = variant_doc("expert-sql", "0.3.0", "hxpm/tiny-qwen3")
    doc["variants"][0]["signature"] = other["signature"]
    doc["variants"][0]["base_sha256"] = other["base_sha256"]
    assert "base_model" in refused(doc).message


def test_tampered_signature_text_is_refused() -> None:
    doc = line_doc()
    doc["variants"][0]["signature"] = doc["variants"][0]["signature"].replace('{"', '{ "', 1)
    assert "variants[0].signature: expected the package's .sig file" in refused(doc).message


def test_variant_entry_checks_itself() -> None:
    fields = dict(variant_doc("expert-sql", "0.3.0"))
    entry = VariantEntry(**fields)
    assert entry.key_id == KEY.public_key.key_id and entry.statement.name == "expert-sql"
    with pytest.raises(IndexDataError, match="exactly one of path and url"):
        VariantEntry(**{**fields, "url": "https://example.org/x"})
    with pytest.raises(IndexDataError, match="sha256"):
        VariantEntry(**{**fields, "sha256": h("other")})


# --- expert files ----------------------------------------------------------------------------


def expert_file(*versions: str, name: str = "expert-sql") -> bytes:
    return "".join(line_text(name, v) + "\n" for v in versions).encode()


def test_expert_file_sorted_by_version_blank_lines_skipped() -> None:
    data = expert_file("0.10.0", "0.2.0") + b"\n   \n" + expert_file("1.0.0-rc.1", "0.9.0")
    lines = parse_expert_file(data, name="expert-sql", where="experts/ex/pe/expert-sql")
    assert [str(ln.version) for ln in lines] == ["0.2.0", "0.9.0", "0.10.0", "1.0.0-rc.1"]


def test_render_expert_file_round_trip() -> None:
    data = expert_file("0.1.0", "0.2.0", "1.0.0")
    lines = parse_expert_file(data, name="expert-sql", where="f")
    assert render_expert_file(list(reversed(lines))) == data
    assert render_expert_file([]) == b""
    yanked = [ln.with_yanked(ln.version == lines[1].version) for ln in lines]
    changed = render_expert_file(yanked).split(b"\n")
    assert [a == b for a, b in zip(changed, data.split(b"\n"), strict=True)] == [
        True,
        False,
        True,
        True,
    ]


def test_expert_file_error_names_the_line() -> None:
    data = expert_file("0.1.0") + b'{"v":1}\n'
    with pytest.raises(IndexDataError, match=r"^experts/ex/pe/expert-sql line 2: name: "):
        parse_expert_file(data, name="expert-sql", where="experts/ex/pe/expert-sql")


def test_expert_file_listing_another_expert_is_refused() -> None:
    data = expert_file("0.1.0") + expert_file("0.1.0", name="expert-json")
    with pytest.raises(IndexDataError) as info:
        parse_expert_file(data, name="expert-sql", where="experts/ex/pe/expert-sql")
    assert info.value.message.startswith("experts/ex/pe/expert-sql line 2: name: ")
    assert "'expert-json'" in info.value.message


@pytest.mark.parametrize("second", ["0.1.0", "0.1.0+build.7"])
def test_duplicate_versions_are_refused(second: str) -> None:
    # Build metadata does not count in SemVer precedence: 0.1.0+build.7 is 0.1.0 again.
    data = f"{line_text('expert-sql', '0.1.0')}\n{line_text('expert-sql', second)}\n".encode()
    with pytest.raises(IndexDataError, match="line 2: version: expected a version not already"):
        parse_expert_file(data, name="expert-sql", where="f")


def test_duplicate_version_message() -> None:
    data = expert_file("0.1.0", "0.2.0", "0.1.0")
    with pytest.raises(IndexDataError, match=r"line 3: version: .*line 1 has it"):
        parse_expert_file(data, name="expert-sql", where="f")


def test_oversized_expert_file_is_refused() -> None:
    with pytest.raises(IndexDataError, match="at most 16777216 bytes"):
        parse_expert_file(b" " * (16 * 1024 * 1024 + 1), name="expert-sql", where="f")


def test_render_refuses_mixed_names_and_duplicates() -> None:
    with pytest.raises(IndexDataError, match="one expert per file"):
        render_expert_file([make_line("expert-sql", "0.1.0"), make_line("expert-json", "0.2.0")])
    with pytest.raises(IndexDataError, match="at most once"):
        render_expert_file([make_line("expert-sql", "0.1.0"), make_line("expert-sql", "0.1.0")])


# --- what publish appends --------------------------------------------------------------------


def publish_inputs(version: str = "0.3.0") -> tuple[Manifest, SourceRef, list[VariantEntry]]:
    manifest = Manifest.from_dict(
        manifest_dict(
            "expert-sql",
            version,
            bases=((BASE, h(BASE)),),
            requires=["expert-json@>=0.4"],
            incompatible_with=["expert-sql-legacy"],
            load_order=6,
            keywords=["sql", "select"],
            extra={"capabilities": ["tech:sql"]},
        )
    )
    source = SourceRef("https://github.com/acme/expert-sql", f"v{version}", COMMIT)
    return manifest, source, [VariantEntry(**variant_doc("expert-sql", version))]


def test_line_from_manifest_copies_the_manifest() -> None:
    manifest, source, variants = publish_inputs()
    line = line_from_manifest(manifest, source, variants)
    assert (line.name, line.version, line.description) == (
        manifest.name,
        manifest.version,
        manifest.description,
    )
    assert line.requires == manifest.requires
    assert line.incompatible_with == manifest.incompatible_with
    assert (line.load_order, line.max_chain, line.capabilities) == (6, 10, ("tech:sql",))
    assert line.keywords == ("sql", "select") and line.source == source
    assert line.variants == tuple(variants) and not line.yanked
    doc = json.loads(line.to_json_line())
    assert list(doc) == [
        "v",
        "name",
        "version",
        "description",
        "source",
        "requires",
        "incompatible_with",
        "load_order",
        "max_chain",
        "capabilities",
        "routing",
        "variants",
        "yanked",
    ]
    assert VersionLine.parse(line.to_json_line(), where=WHERE) == line


def test_line_from_manifest_refuses_inconsistent_variants() -> None:
    manifest, source, _ = publish_inputs()
    other_base = VariantEntry(**variant_doc("expert-sql", "0.3.0", "hxpm/tiny-qwen3"))
    with pytest.raises(IndexDataError, match="base model the manifest lists"):
        line_from_manifest(manifest, source, [other_base])
    older = VariantEntry(**variant_doc("expert-sql", "0.2.0"))
    with pytest.raises(IndexDataError, match=r"variants\[0\]\.signature"):
        line_from_manifest(manifest, source, [older])
    with pytest.raises(IndexDataError, match="variants: expected a non-empty list"):
        line_from_manifest(manifest, source, [])


def test_line_from_manifest_checks_the_base_digest() -> None:
    manifest, source, _ = publish_inputs()
    doc = variant_doc("expert-sql", "0.3.0")  # consistent in itself; the manifest disagrees
    raw = copy.deepcopy(manifest.raw)
    raw["base_models"][0]["sha256"] = h("another base")
    other = Manifest.from_dict(raw)
    with pytest.raises(IndexDataError, match="base_sha256"):
        line_from_manifest(other, source, [VariantEntry(**doc)])
