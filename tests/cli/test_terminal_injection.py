"""Terminal escape injection, end to end (issue 10 item 6).

A package's manifest and an index line are written by others. Strings in them that reach a
terminal must be inert (no raw ESC/BEL/CSI, no bidi override), and `--json` must keep them
exact. The package is built, signed and installed for real; the index is a real Git
repository served on 127.0.0.1, whose line's description (not covered by the signature)
an attacker edited.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.distribution import serving_world

HOSTILE = "\x1b]0;pwn\x07\x1b[2J"  # retitle the terminal, then clear it
BIDI = "\u202eevil"
RAW = ("\x1b", "\x07", "\u202e", "\x9b")


def _assert_inert(*texts: str) -> None:
    for text in texts:
        for ch in RAW:
            assert ch not in text, f"raw {ch!r} reached the terminal: {text[:200]!r}"


def test_manifest_strings_are_inert_in_info_list_route_and_inspect(cli, publish, base_dir):
    description = f"sql helper {HOSTILE} {BIDI}"
    keyword = f"sql{HOSTILE}"
    pub = publish(
        "expert-sql",
        "1.0.0",
        keywords=[keyword, "select"],
        extra={"description": description, "author": f"mallory{HOSTILE}"},
    )
    assert cli("trust", "add", pub.public_key, "--name", "pub").code == 0
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", base_dir).code == 0
    r = cli("install", pub.package)
    assert r.code == 0, r.err
    _assert_inert(r.out, r.err)

    for args in (
        ("info", "expert-sql"),
        ("list",),
        ("route", "sql select", "--explain"),
        ("inspect", pub.package),
        ("verify", pub.package),
    ):
        r = cli(*args)
        assert r.code == 0, (args, r.err)
        _assert_inert(r.out, r.err)
    info = cli("info", "expert-sql")
    assert "\\x1b]0;pwn\\x07" in info.out  # shown, visibly, not dropped

    # --json keeps the exact strings.
    doc = cli("info", "expert-sql", "--json").json()
    manifest = doc["manifest"]
    assert manifest["description"] == doc["expert"]["description"] == description
    assert manifest["routing"]["keywords"][0] == keyword
    inspected = cli("inspect", pub.package, "--json").json()
    assert inspected["manifest"]["description"] == description


def test_a_hostile_base_model_name_is_inert_in_install_verify_and_uninstall(cli, tmp_path):
    """A base name no registered base matches is recorded (and shown) as the manifest wrote
    it; the install, verify and uninstall lines print it."""
    from tests.factories import make_expert_dir

    base = f"hxpm/tiny{HOSTILE}"
    src = make_expert_dir(tmp_path / "src", "expert-b", "1.0.0", bases=((base, "0" * 64),))
    r = cli("install", src, "--unsafe-allow-unsigned")
    assert r.code == 0, r.err
    _assert_inert(r.out, r.err)
    assert "\\x1b]0;pwn" in r.out
    [row] = cli("list", "--json").json()["experts"]
    assert row["base_model"] == base  # exact in JSON
    # A damaged tree: verify names the expert (with its base) in each problem line.
    weights = Path(row["path"]) / "adapter_model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    r = cli("verify", "--store")
    assert r.code == 5 and "modified file" in r.out
    _assert_inert(r.out, r.err)
    r = cli("uninstall", "expert-b")
    assert r.code == 0, r.err
    _assert_inert(r.out, r.err)


def test_index_line_description_is_inert_in_search(
    tmp_path, git_served, cli, base_dir, monkeypatch
):
    with serving_world(tmp_path, git_served, cli, base_dir, monkeypatch) as world:
        world.release("expert-sql", "1.0.0", keywords=["sql"])
        _tamper_description(world.index_work, "expert-sql", f"evil {HOSTILE}")
        world.sync_index()
        home = world.user(tmp_path / "user")
        r = world.run(home, "search", "sql")
        assert r.code == 0, r.err
        _assert_inert(r.out, r.err)
        assert "expert-sql" in r.out
        hits = world.run(home, "search", "sql", "--json").json()["results"]
        assert hits[0]["description"] == f"evil {HOSTILE}"


def _tamper_description(index_work: Path, name: str, description: str) -> None:
    """Edit the line's unsigned description in the index checkout and commit it."""
    from tests.gitserver import make_repo

    [path] = [p for p in index_work.rglob(name) if p.is_file() and ".git" not in p.parts]
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(raw)
        doc["description"] = description
        lines.append(json.dumps(doc, separators=(",", ":")))
    data = ("\n".join(lines) + "\n").encode()
    make_repo(
        index_work, {path.relative_to(index_work).as_posix(): data}, message="edit a description"
    )
