"""The older tool's real experts: validate, package, install and round-trip through the CLI.

Inputs nobody on this project wrote: the six manifests of hivellm/expert-{sql,json,neo4j,
typescript,tools,elastic} and their grammars (tests/fixtures/original-ecosystem, with
PROVENANCE.tsv), plus one derived shape (tests/fixtures/legacy-dialect: expert-sql with two
``_comment`` keys in ``training.dataset``, as an older commit had). Adapter weights are made
with plain PEFT (``save_pretrained``) on models/tiny-qwen3, registered as ``Qwen/Qwen3-0.6B``
so that the manifests' local-path base (``F:/Node/.../Qwen3-0.6B``) matches it.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from hxpm.core.manifest import Manifest
from tests.unit.package.test_reader import trap_pickle

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fixtures" / "original-ecosystem"
TWO_COMMENTS = REPO / "tests/fixtures/legacy-dialect/expert-sql-two-comments/manifest.json"
TINY = REPO / "models" / "tiny-qwen3"
REAL = sorted(p.parent.name for p in (CORPUS / "manifests").glob("*/manifest.json"))
BASE_ID = "Qwen/Qwen3-0.6B"


def real_manifest(repo: str) -> Path:
    return CORPUS / "manifests" / repo / "manifest.json"


# --- validate (no runtime needed) -------------------------------------------------------------


def test_the_corpus_is_the_six_real_experts() -> None:
    assert REAL == [
        "expert-elastic",
        "expert-json",
        "expert-neo4j",
        "expert-sql",
        "expert-tools",
        "expert-typescript",
    ]


def real_checkout(repo: str, tmp_path: Path) -> Path:
    """The manifest with the grammar its repository ships beside it (when it has one)."""
    folder = tmp_path / repo
    folder.mkdir()
    shutil.copy2(real_manifest(repo), folder / "manifest.json")
    grammar = CORPUS / "grammars" / repo / "grammar.gbnf"
    if grammar.is_file():
        shutil.copy2(grammar, folder / "grammar.gbnf")
    return folder / "manifest.json"


@pytest.mark.parametrize("repo", REAL)
def test_every_real_manifest_validates(cli, repo: str, tmp_path: Path) -> None:
    manifest = real_checkout(repo, tmp_path)
    r = cli("validate", manifest)
    assert r.code == 0, r.err
    assert "valid" in r.out
    doc = cli("validate", manifest, "--json").json()
    assert doc["ok"] is True and doc["name"] == repo
    if repo == "expert-typescript":  # bare capabilities and a pickled soft prompt
        assert len(doc["warnings"]) == 2
        assert "'code-generation', 'instruct-tuning': no namespace" in r.err
        assert "soft prompt 'soft_prompts/ts_style_48.bin' is a PyTorch pickle" in r.err
        assert "safetensors.torch.save_file" in r.err
    else:
        assert doc["warnings"] == [] and "warning" not in r.err


def test_a_real_manifest_asking_for_a_grammar_it_lacks_is_refused(cli) -> None:
    # expert-sql's manifest sets decoding.use_grammar; without its grammar.gbnf beside it the
    # promise cannot be kept, so validate says so instead of ignoring it.
    r = cli("validate", real_manifest("expert-sql"))
    assert r.code == 4 and "grammar.gbnf" in r.err and "use_grammar" in r.err


def test_a_real_grammar_broken_is_refused_with_its_line(cli, tmp_path: Path) -> None:
    manifest = real_checkout("expert-json", tmp_path)
    grammar = manifest.parent / "grammar.gbnf"
    lines = grammar.read_text(encoding="utf-8").splitlines()
    lines.insert(10, "extra ::= nosuchrule")  # a rule that refers to nothing, at line 11
    grammar.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cli("validate", manifest, "--json")
    assert r.code == 1
    err = r.json()
    assert err["error"] == "invalid-grammar" and err["details"]["line"] == 11
    assert "nosuchrule" in err["message"]


def test_two_comment_keys_validate_with_a_warning_naming_the_path(cli) -> None:
    r = cli("validate", TWO_COMMENTS)
    assert r.code == 0, r.err
    assert "training.dataset._comment: comment key repeated 2 times" in r.err


def test_other_duplicate_keys_fail_naming_the_path(cli, tmp_path: Path) -> None:
    text = TWO_COMMENTS.read_bytes().replace(
        b'"format": "jsonl",', b'"format": "jsonl", "format": "csv",', 1
    )
    bad = tmp_path / "manifest.json"
    bad.write_bytes(text)
    r = cli("validate", bad)
    assert r.code == 1
    assert "duplicate key 'format' at training.dataset.format" in r.err
    assert "Traceback" not in r.err


# --- package, install, round trip (PEFT adapters on the tiny base) ------------------------------


@pytest.fixture(scope="module")
def peft_adapters(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, Any]], Path]:
    """An adapter folder per (type, r, alpha, target_modules) of a manifest, made once."""
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("peft")
    made: dict[tuple[Any, ...], Path] = {}

    def adapter_for(manifest: dict[str, Any]) -> Path:
        spec = manifest["base_models"][0]["adapters"][0]
        key = (spec["type"], spec["r"], spec["alpha"], tuple(spec["target_modules"]))
        if key not in made:
            made[key] = _save_peft_adapter(root / f"a{len(made)}", *key)
        return made[key]

    return adapter_for


def _save_peft_adapter(out: Path, kind: str, r: int, alpha: int, targets: tuple[str, ...]) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(TINY)
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        target_modules=list(targets),
        use_dora=kind == "dora",
        lora_dropout=0.0,
    )
    with warnings.catch_warnings():
        # peft 0.21 asks transformers 5.25 for a property it has deprecated: not ours.
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated")
        peft_model = get_peft_model(model, config)
    with torch.no_grad():  # peft starts B at zero; make the adapter change something
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
    peft_model.save_pretrained(out, save_embedding_layers=False)
    return out


def expert_dir(root: Path, manifest: Path, adapter: Path) -> Path:
    """An expert folder as the older tool's repos have it: the real manifest (bytes as
    published), the grammar when the repo has one, and adapter files from PEFT."""
    d = root / manifest.parent.name
    d.mkdir(parents=True)
    shutil.copyfile(manifest, d / "manifest.json")
    grammar = manifest.parent / "grammar.gbnf"
    if not grammar.is_file():
        grammar = CORPUS / "grammars" / manifest.parent.name / "grammar.gbnf"
    if grammar.is_file():
        shutil.copyfile(grammar, d / "grammar.gbnf")
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copyfile(adapter / name, d / name)
    return d


def packaged_manifest(pkg: Path) -> bytes:
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(pkg.read_bytes())).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return member.read()


def test_real_experts_package_install_and_round_trip(cli, tmp_path: Path, peft_adapters) -> None:
    assert cli("base", "add", BASE_ID, "--path", TINY).code == 0
    for repo in ("expert-json", *[r for r in REAL if r != "expert-json"]):  # tools needs json
        source = real_manifest(repo)
        original = json.loads(source.read_bytes())
        d = expert_dir(tmp_path / "src", source, peft_adapters(original))
        r = cli("package", d, "-o", tmp_path / "dist", "--json")
        assert r.code == 0, (repo, r.err)
        [built] = r.json()["packages"]
        pkg = Path(built["path"])
        # Round trip: unknown fields, comments, nulls and bare capabilities, all as written.
        assert json.loads(packaged_manifest(pkg)) == original, repo

        r = cli("install", pkg, "--unsafe-allow-unsigned", "--json")
        assert r.code == 0, (repo, r.err)
        result = r.json()["results"][0]
        assert (result["name"], result["version"]) == (repo, original["version"])
        installed = Path(result["path"]) / "manifest.json"
        assert json.loads(installed.read_bytes()) == original, repo
        if repo == "expert-typescript":
            assert any("no namespace" in w for w in result["warnings"])
            assert any("is a PyTorch pickle" in w for w in result["warnings"])
    listed = {e["name"] for e in cli("list", "--json").json()["experts"]}
    assert listed == set(REAL)
    assert cli("verify", "--store").code == 0


def test_two_comment_keys_survive_package_and_install(cli, tmp_path: Path, peft_adapters) -> None:
    original_text = TWO_COMMENTS.read_text(encoding="utf-8")
    d = expert_dir(tmp_path / "src", TWO_COMMENTS, peft_adapters(json.loads(original_text)))
    r = cli("package", d, "-o", tmp_path / "dist", "--json")
    assert r.code == 0, r.err
    pkg = Path(r.json()["packages"][0]["path"])
    text = packaged_manifest(pkg).decode("utf-8")
    first = '"_comment": "Single-source dataset: gretelai/synthetic_text_to_sql'
    second = '"_comment": "Multi-source dataset: 147,140 validated examples'
    assert text.count(first) == 1 and text.count(second) == 1
    assert text.index(first) < text.index('"path": "datasets/train.jsonl"') < text.index(second)
    # Written back, it reads the same and says the same.
    again = Manifest.from_bytes(text.encode())
    assert again == Manifest.from_bytes(TWO_COMMENTS.read_bytes())
    assert again.to_json_bytes().decode() == text

    assert cli("base", "add", BASE_ID, "--path", TINY).code == 0
    r = cli("install", pkg, "--unsafe-allow-unsigned", "--json")
    assert r.code == 0, r.err
    result = r.json()["results"][0]
    assert any(
        w.startswith("training.dataset._comment: comment key repeated 2 times")
        for w in result["warnings"]
    )
    assert (Path(result["path"]) / "manifest.json").read_text(encoding="utf-8") == text
    assert cli("verify", "--store").code == 0


# --- a package as the older packager wrote it ------------------------------------------------


def older_packager_manifest() -> dict[str, Any]:
    """expert-typescript as the older packager re-serialised it: serde writes every unset
    ``Option`` as null (no routing in this expert, no integrity, no max_chain here)."""
    doc = json.loads(real_manifest("expert-typescript").read_bytes())
    doc.update(routing=None, integrity=None, homepage=None)
    doc["constraints"]["max_chain"] = None
    return doc


def legacy_archive(tmp_path: Path, adapter: Path, marker: Path, *, zstd: bool = False) -> Path:
    """A gzip tar shaped like the older tool's (GNU headers, real mtimes, manifest first),
    holding its legacy-only members: a Trainer pickle, a signature, tests and a checksum."""
    name = "expert-typescript-qwen3-0-6b.v0.0.1.expert"
    files: dict[str, bytes] = {
        "manifest.json": json.dumps(older_packager_manifest(), indent=2).encode(),
        "adapter_config.json": (adapter / "adapter_config.json").read_bytes(),
        "adapter_model.safetensors": (adapter / "adapter_model.safetensors").read_bytes(),
        "README.md": b"# expert-typescript\n",
        "training_args.bin": trap_pickle(marker),
    }
    if not zstd:
        files.update(
            {
                "signature.sig": b"ab" * 64,
                "tests/test_typescript.py": b"pass\n",
                f"{name}.sha256": b"0" * 64 + f"  {name}\n".encode(),
            }
        )
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), 1731000000, 0o644
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / name
    raw = out.getvalue()
    path.write_bytes(zstandard.ZstdCompressor().compress(raw) if zstd else gzip.compress(raw))
    return path


def test_legacy_package_with_trainer_pickle_installs_skipping_it(
    cli, tmp_path: Path, peft_adapters
) -> None:
    marker = tmp_path / "UNPICKLED"
    adapter = peft_adapters(older_packager_manifest())
    pkg = legacy_archive(tmp_path, adapter, marker)

    info = cli("inspect", pkg, "--json").json()
    assert sorted(info["skipped"]) == sorted(
        ["training_args.bin", "signature.sig", "tests/test_typescript.py", f"{pkg.name}.sha256"]
    )
    assert "training_args.bin" not in {m["path"] for m in info["members"]}
    skipped = [w for w in info["warnings"] if w.startswith("legacy package: skipped 4")]
    assert len(skipped) == 1 and "training_args.bin (HF Trainer arguments, a pickle)" in skipped[0]
    assert any(
        "null read as absent" in w and "routing" in w and "constraints.max_chain" in w
        for w in info["warnings"]
    )
    assert info["manifest"]["routing"] is None  # kept as written
    human = cli("inspect", pkg)
    assert human.code == 0 and "skipped (legacy only" in human.out
    assert "training_args.bin" in human.out and "legacy package: skipped 4" in human.err

    assert cli("base", "add", BASE_ID, "--path", TINY).code == 0
    r = cli("install", pkg, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err
    assert "legacy package: skipped 4 member(s)" in r.err and "training_args.bin" in r.err
    files = {f["path"] for f in cli("info", "expert-typescript", "--json").json()["files"]}
    assert files == {
        "manifest.json",
        "adapter_config.json",
        "adapter_model.safetensors",
        "README.md",
    }
    assert cli("verify", "--store").code == 0
    assert not marker.exists()


def test_trainer_pickle_in_a_zstd_package_is_refused(cli, tmp_path: Path, peft_adapters) -> None:
    marker = tmp_path / "UNPICKLED"
    pkg = legacy_archive(tmp_path, peft_adapters(older_packager_manifest()), marker, zstd=True)
    r = cli("install", pkg, "--unsafe-allow-unsigned")
    assert r.code == 5
    assert "'training_args.bin': pickle files run code" in r.err and "Traceback" not in r.err
    assert cli("list", "--json").json()["experts"] == [] and not marker.exists()
