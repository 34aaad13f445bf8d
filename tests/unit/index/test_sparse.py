"""The sparse index snapshot and URLs: strict parsing, real Ed25519 signatures, the guards."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from hxpm.errors import (
    IndexDataError,
    IntegrityError,
    RollbackError,
    SignatureError,
    UntrustedKeyError,
    UsageError,
)
from hxpm.index.model import shard_path
from hxpm.index.sparse import (
    check_file,
    check_not_older,
    new_snapshot,
    normalise_sparse_url,
    parse_snapshot,
    sign_snapshot,
    verify_snapshot,
)
from hxpm.package.signing import generate_secret_key

OWNER = generate_secret_key()
COMMIT = "c" * 40
TREE = {"config.json": b"{}\n", shard_path("expert-sql"): b"line\n"}


def signed(serial: int = 5, days: float = 1.0, key=OWNER, tree=TREE) -> bytes:  # type: ignore[no-untyped-def]
    snap = new_snapshot("main", serial, COMMIT, datetime.now(UTC) + timedelta(days=days), tree)
    return sign_snapshot(snap, [key])


def test_a_signed_snapshot_round_trips_and_verifies() -> None:
    s = parse_snapshot(signed(), where="t")
    snap = verify_snapshot(s, [OWNER.public_key], index="main")
    assert snap.serial == 5 and snap.commit == COMMIT
    assert snap.files["config.json"] == hashlib.sha256(b"{}\n").hexdigest()


def test_any_change_to_the_signed_part_breaks_the_signature() -> None:
    doc = json.loads(signed())
    doc["signed"]["serial"] = 6
    s = parse_snapshot(json.dumps(doc).encode(), where="t")
    with pytest.raises(SignatureError):
        verify_snapshot(s, [OWNER.public_key], index="main")


def test_a_snapshot_by_another_key_is_untrusted() -> None:
    s = parse_snapshot(signed(key=generate_secret_key()), where="t")
    with pytest.raises(UntrustedKeyError):
        verify_snapshot(s, [OWNER.public_key], index="main")


def test_an_expired_snapshot_is_refused_after_its_signature_checks() -> None:
    s = parse_snapshot(signed(days=-1), where="t")
    with pytest.raises(IndexDataError) as e:
        verify_snapshot(s, [OWNER.public_key], index="main")
    assert e.value.details["reason"] == "expired"


def test_serial_must_not_go_down_and_one_serial_is_one_snapshot() -> None:
    accepted = signed(serial=5)
    check_not_older(
        parse_snapshot(signed(serial=6), where="t"), serial=5, raw=accepted, index="main"
    )
    with pytest.raises(RollbackError):
        check_not_older(
            parse_snapshot(signed(serial=4), where="t"), serial=5, raw=accepted, index="main"
        )
    other = signed(serial=5, tree={**TREE, "config.json": b"[]"})
    with pytest.raises(RollbackError):
        check_not_older(parse_snapshot(other, where="t"), serial=5, raw=accepted, index="main")


def test_a_file_must_match_the_snapshot() -> None:
    snap = parse_snapshot(signed(), where="t").snapshot
    check_file(snap, "config.json", b"{}\n", index="main")
    with pytest.raises(IntegrityError):
        check_file(snap, "config.json", b"{ }\n", index="main")
    with pytest.raises(IntegrityError):
        check_file(snap, shard_path("expert-json"), b"", index="main")  # not listed at all


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.update(extra=1), ""),
        (lambda d: d.update(signatures=[]), "signatures"),
        (lambda d: d["signatures"][0].update(signature="ed25519:AAAA"), "signature"),
        (lambda d: d["signed"].update(format="hxpm-sparse-snapshot/2"), "format"),
        (lambda d: d["signed"].update(serial=-1), "serial"),
        (lambda d: d["signed"].update(serial="5"), "serial"),
        (lambda d: d["signed"].update(commit="abc"), "commit"),
        (lambda d: d["signed"].update(expires="tomorrow"), "expires"),
        (lambda d: d["signed"].update(mirror="x"), "signed"),
        (lambda d: d["signed"]["files"].update({"../etc/passwd": "0" * 64}), "files"),
        (lambda d: d["signed"]["files"].update({"experts/zz/zz/expert-sql": "0" * 64}), "files"),
        (lambda d: d["signed"]["files"].update({"config.json": "XYZ"}), "files"),
        (lambda d: d["signed"]["files"].pop("config.json"), "files"),
    ],
)
def test_malformed_snapshots_are_refused_naming_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(signed())
    mutate(doc)
    with pytest.raises(IndexDataError) as e:
        parse_snapshot(json.dumps(doc).encode(), where="snapshot.json")
    assert field in e.value.message and "snapshot.json" in e.value.message


def test_duplicate_keys_and_non_json_are_refused() -> None:
    with pytest.raises(IndexDataError):
        parse_snapshot(b'{"signed": {}, "signed": {}, "signatures": []}', where="t")
    with pytest.raises(IndexDataError):
        parse_snapshot(b"\xff\xfe", where="t")


@pytest.mark.parametrize(
    "text, url",
    [
        ("sparse+https://cdn.example.com/idx", "sparse+https://cdn.example.com/idx/"),
        ("sparse+https://user:tok@cdn.example.com/idx/", "sparse+https://cdn.example.com/idx/"),
        ("sparse+http://127.0.0.1:8080/", "sparse+http://127.0.0.1:8080/"),
        ("sparse+http://[::1]:8080/x/", "sparse+http://[::1]:8080/x/"),
    ],
)
def test_sparse_urls(text: str, url: str) -> None:
    got = normalise_sparse_url(text)
    assert got.url == url and "tok" not in repr(got)
    assert got.file_url("snapshot.json").endswith("/snapshot.json")


@pytest.mark.parametrize(
    "text",
    [
        "sparse+http://example.com/idx/",
        "sparse+ftp://host/x/",
        "sparse+https:///x",
        "sparse+https://host/x/?q=1",
        "sparse+https://host/x/#frag",
        "https://host/x/",
        "sparse+https://host/a b/",
        "sparse+https://host:99999/",
    ],
)
def test_bad_sparse_urls_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        normalise_sparse_url(text)


def test_snapshot_size_for_10k_experts_stays_near_a_megabyte() -> None:
    tree = {shard_path(f"expert-{i:05d}"): b"x%d" % i for i in range(10_000)}
    tree["config.json"] = b"{}"
    raw = signed(tree=tree)
    assert len(raw) < 1_200_000  # measured: ~1.0 MB (docs/formats/sparse-index.md)
    parse_snapshot(raw, where="t")
