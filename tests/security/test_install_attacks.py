"""Attacks at install time: each is refused with exit 5 and leaves the store unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def _store_snapshot(home: Path) -> tuple[list[str], list[str]]:
    files = (
        sorted(p.relative_to(home).as_posix() for p in (home / "experts").rglob("*"))
        if (home / "experts").exists()
        else []
    )
    tmp = sorted(p.name for p in (home / "tmp").iterdir()) if (home / "tmp").exists() else []
    return files, tmp


@pytest.fixture
def trusted(cli, publish):
    pub = publish("expert-sql", "0.3.0")
    assert cli("trust", "add", pub.public_key, "--name", "acme", "--experts", "expert-*").code == 0
    return pub


def _refused(cli, hxpm_home, *args, expect: str) -> None:
    r = cli("install", *args)
    assert r.code == 5, (r.code, r.err)
    assert expect in r.err, r.err
    assert cli("list", "--json").json()["experts"] == []
    assert _store_snapshot(hxpm_home) == ([], [])


def test_tampered_archive_byte(cli, hxpm_home, trusted, tmp_path):
    bad = tmp_path / "bad" / trusted.package.name
    bad.parent.mkdir()
    data = bytearray(trusted.package.read_bytes())
    data[len(data) // 2] ^= 0x40
    bad.write_bytes(bytes(data))
    shutil.copy(trusted.signature, str(bad) + ".sig")
    _refused(cli, hxpm_home, bad, expect="sha256")


def test_untrusted_key(cli, hxpm_home, publish):
    pub = publish("expert-sql", "0.3.0", key="stranger")
    r = cli("install", pub.package)
    assert r.code == 5 and pub.key_id in r.err and "hxpm trust add" in r.err
    assert cli("list", "--json").json()["experts"] == []


def test_key_trusted_for_other_experts_only(cli, hxpm_home, publish):
    pub = publish("expert-sql", "0.3.0")
    added = cli("trust", "add", pub.public_key, "--name", "acme", "--experts", "expert-json")
    assert added.code == 0
    _refused(cli, hxpm_home, pub.package, expect="expert-json")


@pytest.mark.parametrize(
    "other",
    [
        {"name": "expert-evil", "version": "0.3.0"},
        {"name": "expert-sql", "version": "0.2.0"},
    ],
)
def test_valid_signature_for_another_package(cli, hxpm_home, trusted, publish, other, tmp_path):
    victim = publish(other["name"], other["version"])  # signed by the same trusted key
    swapped = tmp_path / "swap" / victim.package.name
    swapped.parent.mkdir()
    shutil.copy(victim.package, swapped)
    shutil.copy(trusted.signature, str(swapped) + ".sig")  # signature of expert-sql 0.3.0
    _refused(cli, hxpm_home, swapped, expect="sha256")


def test_signature_for_another_base(cli, hxpm_home, publish, tmp_path):
    """Same name and version, other base: the signed statement pins the base model too."""
    a = publish("expert-sql", "0.3.0")
    b = publish("expert-sql", "0.3.0", bases=(("Qwen/Qwen3-0.6B", "2" * 64),))
    assert cli("trust", "add", a.public_key, "--name", "acme").code == 0
    swapped = tmp_path / "swap" / b.package.name
    swapped.parent.mkdir()
    shutil.copy(b.package, swapped)
    shutil.copy(a.signature, str(swapped) + ".sig")
    _refused(cli, hxpm_home, swapped, expect="sha256")


def test_unsigned_package(cli, hxpm_home, trusted):
    trusted.signature.unlink()
    _refused(cli, hxpm_home, trusted.package, expect="not signed")


def test_garbage_signature_file(cli, hxpm_home, trusted):
    trusted.signature.write_text("not a signature\n")
    _refused(cli, hxpm_home, trusted.package, expect="signature")


def test_base_digest_mismatch(cli, hxpm_home, trusted, tmp_path):
    from tests.factories import make_base_dir

    other = make_base_dir(tmp_path, "retrained-base", seed=99)
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", other).code == 0
    _refused(cli, hxpm_home, trusted.package, expect="digest")
