"""`hxpm new`: a scaffolded expert validates, packages, is a one-commit Git repo, and the
skeleton it comes from ships inside the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dulwich.repo import Repo

from hxpm.core.digest import base_model_digest
from hxpm.index import git
from tests.factories import adapter_config, lora_tensors, write_safetensors

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_FILES = [
    ".gitignore",
    "LICENSE",
    "README.md",
    "datasets/generate.py",
    "datasets/heldout.jsonl",
    "datasets/train.jsonl",
    "manifest.json",
    "tests/test_expert.py",
]
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _tree(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file below ``root`` (bytecode caches left out)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _new(cli, *args: str | Path) -> dict:
    r = cli("new", *args, "--json")
    assert r.code == 0, r.err or r.out
    return r.json()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


# --- what gets created ---------------------------------------------------------------------


def test_new_creates_a_valid_expert_repo_with_one_commit(cli, in_tmp):
    doc = _new(cli, "sql")
    path = in_tmp / "expert-sql"
    assert doc == {
        "schema": "hxpm.new/1",
        "name": "expert-sql",
        "version": "0.1.0",
        "path": str(path),
        "files": TEMPLATE_FILES,
        "commit": doc["commit"],
        "base": {"name": "Qwen/Qwen3-0.6B", "sha256": "", "registered": False},
    }
    assert (
        sorted(_tree(path).keys() - {p for p in _tree(path) if p.startswith(".git/")})
        == TEMPLATE_FILES
    )
    r = cli("validate", path, "--json")
    assert r.code == 0, r.err
    assert r.json()["base_models"] == ["Qwen/Qwen3-0.6B"]

    assert git.head_commit(path) == doc["commit"]
    assert git.list_tree(path, doc["commit"]) == TEMPLATE_FILES
    assert git.is_worktree_clean(path)
    with Repo(str(path)) as repo:
        assert repo[doc["commit"].encode()].parents == []  # the first and only commit
        assert repo.refs.read_ref(b"HEAD") == b"ref: refs/heads/main"


def test_manifest_has_the_full_recipe(cli, in_tmp):
    _new(cli, "sql")
    m = json.loads((in_tmp / "expert-sql" / "manifest.json").read_text())
    assert (m["name"], m["version"], m["schema_version"], m["license"]) == (
        "expert-sql",
        "0.1.0",
        "2.0",
        "Apache-2.0",
    )
    assert "{{" not in json.dumps(m)
    variant = m["base_models"][0]
    assert variant["adapters"] == [{"type": "lora", "r": 8, "alpha": 16, "target_modules": MODULES}]
    assert "not registered" in variant["_comment"]
    assert m["capabilities"] == ["task:sql"] and m["routing"]["keywords"] == ["sql"]
    assert m["constraints"] == {
        "requires": [],
        "incompatible_with": [],
        "load_order": 5,
        "max_chain": 10,
    }
    training = m["training"]
    assert training["dataset"]["path"] == "datasets/train.jsonl"
    assert training["dataset"]["heldout"] == "datasets/heldout.jsonl"
    assert training["dataset"]["format"] == "prompt-completion"
    assert training["config"] == {
        "method": "sft",
        "adapter_type": "lora",
        "rank": 8,
        "alpha": 16,
        "target_modules": MODULES,
        "epochs": 3,
        "learning_rate": 0.002,
        "batch_size": 16,
        "max_length": 160,
    }
    assert training["decoding"] == {"temperature": 0, "max_new_tokens": 64}
    assert m["evaluation"] == {"metric": "exact_match"}
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "hxpm" / "schemas" / "manifest.schema.json").read_text())
    jsonschema.validate(m, schema)


def test_readme_license_and_gitignore(cli, in_tmp):
    _new(cli, "sql")
    root = in_tmp / "expert-sql"
    readme = (root / "README.md").read_text()
    for section in ("Task", "Data", "Training", "Scores", "Example", "Limitations", "License"):
        assert f"\n## {section}\n" in readme
    assert "| `Qwen/Qwen3-0.6B` alone |" in readme
    assert "dist/expert-sql-qwen3-0-6b.v0.1.0.expert" in readme
    assert "{{" not in readme
    license_text = (root / "LICENSE").read_text()
    assert "Apache License, Version 2.0" in license_text and "expert-sql" in license_text
    ignored = (root / ".gitignore").read_text().splitlines()
    assert {"*.bin", "*.pt", "build/"} <= set(ignored)
    # Releases commit their signed packages in dist/: hxpm publish and Git installs read them.
    assert "dist/" not in ignored and "*.expert" not in ignored


def test_the_scaffolded_tests_and_generator_run(cli, in_tmp):
    _new(cli, "sql")
    root = in_tmp / "expert-sql"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        check=False,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 passed" in r.stdout

    # The committed sample is exactly what the generator writes for these arguments.
    out = in_tmp / "regenerated"
    r = subprocess.run(
        [
            sys.executable,
            "datasets/generate.py",
            "--train",
            "8",
            "--heldout",
            "4",
            "--seed",
            "0",
            "--out",
            str(out),
        ],
        check=False,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    for name in ("train.jsonl", "heldout.jsonl"):
        assert (out / name).read_bytes() == (root / "datasets" / name).read_bytes()


def test_new_expert_packages_once_weights_are_added(cli, in_tmp):
    root = Path(_new(cli, "sql")["path"])
    (root / "adapter_config.json").write_text(json.dumps(adapter_config("Qwen/Qwen3-0.6B")))
    write_safetensors(root / "adapter_model.safetensors", lora_tensors())
    r = cli("package", root, "--json")
    assert r.code == 0, r.err
    (built,) = r.json()["packages"]
    assert Path(built["path"]) == root / "dist" / "expert-sql-qwen3-0-6b.v0.1.0.expert"
    members = {m["path"] for m in cli("inspect", built["path"], "--json").json()["members"]}
    assert {"manifest.json", "README.md", "LICENSE", "adapter_model.safetensors"} <= members


def test_text_output(cli, in_tmp):
    r = cli("new", "expert-sql")
    assert r.code == 0, r.err
    assert "created expert-sql 0.1.0" in r.out and "not registered" in r.out


# --- base models ---------------------------------------------------------------------------


def test_new_uses_the_default_registered_base_and_its_digest(cli, in_tmp, base_dir):
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    doc = _new(cli, "json")
    digest = base_model_digest(base_dir)
    assert doc["base"] == {"name": "hxpm/tiny-qwen3", "sha256": digest, "registered": True}
    variant = json.loads((in_tmp / "expert-json" / "manifest.json").read_text())["base_models"][0]
    assert (variant["name"], variant["sha256"]) == ("hxpm/tiny-qwen3", digest)
    assert cli("validate", in_tmp / "expert-json").code == 0


def test_base_option(cli, in_tmp, base_dir):
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    assert cli("base", "add", "other/base", "--path", base_dir).code == 0
    assert _new(cli, "a", "--base", "other/base")["base"]["name"] == "other/base"
    # A base that is not registered is named with an empty digest and a note.
    doc = _new(cli, "b", "--base", "Qwen/Qwen3-1.7B")
    assert doc["base"] == {"name": "Qwen/Qwen3-1.7B", "sha256": "", "registered": False}
    variant = json.loads((in_tmp / "expert-b" / "manifest.json").read_text())["base_models"][0]
    assert "hxpm base add" in variant["_comment"]
    r = cli("new", "c", "--base", "../evil", "--json")
    assert r.code == 2 and r.json()["error"] == "usage"
    assert not (in_tmp / "expert-c").exists()


def test_new_does_not_create_a_store(cli, in_tmp, hxpm_home):
    _new(cli, "sql")
    assert not hxpm_home.exists()


# --- names and folders ---------------------------------------------------------------------


@pytest.mark.parametrize("word", ["sql", "expert-sql"])
def test_short_names_get_the_expert_prefix(cli, in_tmp, word):
    doc = _new(cli, word)
    assert doc["name"] == "expert-sql" and doc["path"] == str(in_tmp / "expert-sql")


@pytest.mark.parametrize(
    "word", ["SQL", "sql_db", "sql db", "expert-", "sql-", "sql--x", "-sql", "../sql", "x" * 58, ""]
)
def test_bad_names_are_refused(cli, in_tmp, word):
    r = cli("new", "--json", "--", word)  # after --, "-sql" is a name, not an option
    assert r.code == 2, r.out
    assert r.json()["error"] == "usage" and "name" in r.json()["message"]
    assert list(in_tmp.iterdir()) == []


def test_longest_name_is_accepted(cli, in_tmp):
    assert _new(cli, "x" * 57)["name"] == "expert-" + "x" * 57


def test_dir_option_and_an_empty_folder(cli, in_tmp, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _new(cli, "sql", "--dir", empty)["path"] == str(empty)
    nested = tmp_path / "a" / "b" / "my-expert"
    doc = _new(cli, "sql", "--dir", nested)
    assert doc["path"] == str(nested) and cli("validate", nested).code == 0


def test_refuses_a_folder_that_is_not_empty(cli, in_tmp):
    target = in_tmp / "expert-sql"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    r = cli("new", "sql", "--json")
    assert r.code == 2 and "notes.txt" in r.json()["message"]
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine"


def test_refuses_a_file(cli, in_tmp):
    (in_tmp / "expert-sql").write_text("x")
    r = cli("new", "sql")
    assert r.code == 2 and "file" in r.err
    assert (in_tmp / "expert-sql").read_text() == "x"


def test_a_failure_midway_leaves_nothing_behind(cli, in_tmp, tmp_path, monkeypatch):
    from hxpm.errors import StoreError

    def broken_commit(*args, **kwargs):
        raise StoreError("disk full (injected)")

    monkeypatch.setattr(git, "commit_files", broken_commit)
    r = cli("new", "sql", "--dir", in_tmp / "a" / "b" / "expert-sql")
    assert r.code == 7 and "injected" in r.err
    assert list(in_tmp.iterdir()) == []  # the folders it created are gone too

    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("new", "sql", "--dir", empty).code == 7
    assert empty.is_dir() and list(empty.iterdir()) == []  # kept, and empty again


# --- the skeleton ships with hxpm ----------------------------------------------------------


def test_the_skeleton_lives_in_one_place():
    # hxpm/templates/expert/ is the only copy (it ships in the wheel); a second copy at the
    # repository root would drift from it.
    assert sorted(_tree(REPO / "hxpm" / "templates" / "expert")) == TEMPLATE_FILES
    assert not (REPO / "templates").exists()


@pytest.mark.slow
def test_the_wheel_ships_the_templates(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "hxpm", src / "hxpm", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            ".",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "w"),
        ],
        check=False,
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp_path / "w").glob("hxpm-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert "hxpm/runtime/session.py" in z.namelist()  # the runtime layer ships too
        shipped = {
            n.removeprefix("hxpm/templates/expert/"): z.read(n)
            for n in z.namelist()
            if n.startswith("hxpm/templates/expert/")
        }
    assert shipped == _tree(REPO / "hxpm" / "templates" / "expert")
