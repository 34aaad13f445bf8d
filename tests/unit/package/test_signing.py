"""Keys, statements and .sig files, with real Ed25519 keys and signatures."""

from __future__ import annotations

import ast
import base64
import dataclasses
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

import hxpm
from hxpm.errors import (
    HxpmError,
    NotFoundError,
    SignatureError,
    UsageError,
    VerificationError,
)
from hxpm.package.keyfiles import public_key_file_text, read_secret_key, write_secret_key
from hxpm.package.signing import (
    MAX_SIGNATURE_FILE_BYTES,
    PublicKey,
    SecretKey,
    SignatureEnvelope,
    Statement,
    generate_secret_key,
    parse_public_key,
    parse_signature_file,
    sign_statement,
    verify_envelope,
)

# RFC 8032 section 7.1, TEST 1: an independent vector for seed -> public key -> signature.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return generate_secret_key()


@pytest.fixture(scope="module")
def other_key() -> SecretKey:
    return generate_secret_key()


def make_statement(key: SecretKey, **changes: str) -> Statement:
    fields = {
        "name": "expert-sql",
        "version": "0.3.0",
        "base_model": "Qwen/Qwen3-0.6B",
        "base_sha256": _hex(b"base"),
        "tree_sha256": _hex(b"tree"),
        "sha256": _hex(b"archive"),
        "key_id": key.public_key.key_id,
        "created": "2025-01-02T03:04:05Z",
    }
    fields.update(changes)
    return Statement(**fields)


def statement_doc(statement: Statement) -> dict[str, object]:
    doc: dict[str, object] = json.loads(statement.to_bytes())
    return doc


def canonical(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# --- keys ----------------------------------------------------------------------------------


def test_public_key_id_and_text(key: SecretKey) -> None:
    pub = key.public_key
    assert len(pub.raw) == 32
    assert pub.key_id == hashlib.sha256(pub.raw).hexdigest()[:16]
    assert pub.text == "ed25519:" + base64.b64encode(pub.raw).decode()
    assert parse_public_key(pub.text) == pub


def test_rfc8032_vector_legacy_seed_and_hex_public_key(tmp_path: Path) -> None:
    assert SecretKey(RFC_SEED).public_key.raw == RFC_PUBLIC
    assert parse_public_key("ed25519:" + RFC_PUBLIC.hex()).raw == RFC_PUBLIC
    assert parse_public_key("ed25519:" + RFC_PUBLIC.hex().upper()).raw == RFC_PUBLIC
    legacy = tmp_path / "publisher.pem"  # the original expert-cli wrote the raw seed
    legacy.write_bytes(RFC_SEED)
    legacy.chmod(0o600)
    assert read_secret_key(legacy) == SecretKey(RFC_SEED)


def test_parse_public_key_file_text_with_comments(key: SecretKey) -> None:
    text = public_key_file_text(key.public_key, name="Acme Labs")
    assert text.startswith("#") and text.endswith(key.public_key.text + "\n")
    assert parse_public_key(text) == key.public_key
    text = f"\n  # comment\n\n  {key.public_key.text}  \n# end\n"
    assert parse_public_key(text) == key.public_key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "i1i688K59adEKpw7cdndqprcCwxgNcKl16b/W+feKrg=",  # no prefix
        "ed25519:",
        "ed25519:not base64!!",
        "ed25519:" + base64.b64encode(b"k" * 31).decode(),  # 31 bytes
        "ed25519:" + base64.b64encode(b"k" * 33).decode(),  # 33 bytes
        "ed25519:" + base64.b64encode(b"k" * 32).decode().rstrip("="),  # unpadded
        "ed25519:" + "ab" * 31,  # 62 hex digits
        "rsa:" + base64.b64encode(b"k" * 32).decode(),
    ],
)
def test_parse_public_key_rejects(text: str) -> None:
    with pytest.raises(SignatureError, match="public key: expected"):
        parse_public_key(text)


def test_parse_public_key_rejects_two_keys_and_noncanonical_base64(key: SecretKey) -> None:
    with pytest.raises(SignatureError, match="exactly one key line"):
        parse_public_key(f"{key.public_key.text}\n{key.public_key.text}\n")
    # 'h' instead of 'g' before '=' sets padding bits: same bytes, a second spelling.
    good = base64.b64encode(b"k" * 32).decode()
    assert good.endswith("s=")
    with pytest.raises(SignatureError):
        parse_public_key("ed25519:" + good[:-2] + "t=")


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_wrong_key_sizes_are_signature_errors(size: int) -> None:
    with pytest.raises(SignatureError, match=f"expected 32 bytes, got {size} bytes"):
        PublicKey(b"\x01" * size)
    with pytest.raises(SignatureError, match=f"expected 32 bytes, got {size} bytes"):
        SecretKey(b"\x01" * size)


def test_secret_key_repr_hides_seed(key: SecretKey) -> None:
    shown = repr(key) + str(key) + repr([key])
    assert key.public_key.key_id in shown
    for secret in (repr(key.seed), key.seed.hex(), base64.b64encode(key.seed).decode()):
        assert secret not in shown


# --- secret key files ----------------------------------------------------------------------


def test_secret_key_file_round_trip_mode_and_format(tmp_path: Path, key: SecretKey) -> None:
    path = tmp_path / "new" / "deeper" / "signing.key"
    write_secret_key(path, key, name="Acme Labs")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert path.read_text() == (
        "hxpm-secret-key/1\nname: Acme Labs\n"
        f"key_id: {key.public_key.key_id}\nseed: {base64.b64encode(key.seed).decode()}\n"
    )
    assert read_secret_key(path) == key
    assert sorted(p.name for p in path.parent.iterdir()) == ["signing.key"]  # no temp left


def test_write_secret_key_with_restrictive_umask(tmp_path: Path, key: SecretKey) -> None:
    old = os.umask(0o000)
    try:
        write_secret_key(tmp_path / "d" / "k.key", key, name="me")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d" / "k.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700


def test_write_secret_key_refuses_to_overwrite(
    tmp_path: Path, key: SecretKey, other_key: SecretKey
) -> None:
    path = tmp_path / "signing.key"
    write_secret_key(path, key, name="first")
    before = path.read_bytes()
    with pytest.raises(UsageError, match="expected a new file") as info:
        write_secret_key(path, other_key, name="second")
    assert info.value.hint and "never overwrites" in info.value.hint
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.key"]


def test_write_secret_key_refuses_a_symlink_target(tmp_path: Path, key: SecretKey) -> None:
    (tmp_path / "link.key").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError):
        write_secret_key(tmp_path / "link.key", key, name="me")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("name", ["", " lead", "two\nlines", "x" * 65, "tab\there"])
def test_write_secret_key_rejects_bad_names(tmp_path: Path, key: SecretKey, name: str) -> None:
    with pytest.raises(UsageError, match="key name"):
        write_secret_key(tmp_path / "k.key", key, name=name)
    assert not (tmp_path / "k.key").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_read_secret_key_refuses_group_or_world_readable(
    tmp_path: Path, key: SecretKey, mode: int
) -> None:
    path = tmp_path / "k.key"
    write_secret_key(path, key, name="me")
    path.chmod(mode)
    with pytest.raises(UsageError, match=f"expected mode 0600.*got {mode:04o}") as info:
        read_secret_key(path)
    assert info.value.hint == f"Protect the key with: chmod 600 {path}"


def test_read_secret_key_missing(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        read_secret_key(tmp_path / "absent.key")
    assert info.value.hint and "hxpm key generate" in info.value.hint


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff" * 31,
        b"\xff" * 33,
        b"hxpm-secret-key/1\nname: x\n",
        b"not a key at all, just some text that is long enough\n",
        b"hxpm-secret-key/1\nname: x\nkey_id: 0011223344556677\nseed: !!!!\n",
        b"hxpm-secret-key/1\nseed: AAAA\nname: x\nkey_id: 0011223344556677\n",
        b"x" * 5000,
    ],
)
def test_read_secret_key_rejects_garbage(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(SignatureError, match="expected 'hxpm-secret-key/1' text"):
        read_secret_key(path)


def test_read_secret_key_detects_key_id_damage(tmp_path: Path, key: SecretKey) -> None:
    path = tmp_path / "k.key"
    write_secret_key(path, key, name="me")
    path.write_text(path.read_text().replace(key.public_key.key_id, "0" * 16))
    with pytest.raises(SignatureError, match="damaged"):
        read_secret_key(path)


# --- statements ----------------------------------------------------------------------------


def test_statement_canonical_bytes(key: SecretKey) -> None:
    statement = make_statement(key)
    data = statement.to_bytes()
    doc = json.loads(data)
    assert doc["format"] == "hxpm-sig/1"
    assert list(doc) == sorted(doc)
    assert data == canonical(doc)
    assert b" " not in data.replace(b"Qwen/Qwen3-0.6B", b"")
    assert Statement.from_bytes(data) == statement


def test_statement_allows_unknown_base_digest(key: SecretKey) -> None:
    statement = make_statement(key, base_sha256="")
    assert Statement.from_bytes(statement.to_bytes()).base_sha256 == ""


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: json.dumps(d, sort_keys=True).encode(),  # spaces
        lambda d: json.dumps(dict(reversed(list(d.items()))), separators=(",", ":")).encode(),
        lambda d: canonical(d) + b"\n",
        lambda d: b" " + canonical(d),
        lambda d: canonical(d).replace(b'"expert-sql"', b'"\\u0065xpert-sql"'),
        lambda d: canonical(d).replace(b'"key_id"', b'"created":"2025-01-02T03:04:05Z","key_id"'),
    ],
    ids=["spaces", "key-order", "newline", "leading-space", "escaped-char", "duplicate-key"],
)
def test_statement_rejects_non_canonical_bytes(
    key: SecretKey, encode: Callable[[dict[str, object]], bytes]
) -> None:
    data = encode(statement_doc(make_statement(key)))
    with pytest.raises(SignatureError, match="signature statement"):
        Statement.from_bytes(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "hxpm-sig/2"}, "format: expected 'hxpm-sig/1'"),
        ({"format": "minisign"}, "format: expected 'hxpm-sig/1'"),
        ({"extra": "x"}, "expected exactly the keys"),
        ({"created": None}, "created: expected a string"),
        ({"version": 3}, "version: expected a string"),
        ({"name": "Expert-SQL"}, "name: expected a lower-case name"),
        ({"version": "1.0"}, "version: expected a SemVer"),
        ({"base_model": ""}, "base_model: expected"),
        ({"base_sha256": "AB" * 32}, "base_sha256: expected 64 lower-case hex"),
        ({"tree_sha256": ""}, "tree_sha256: expected 64 lower-case hex"),
        ({"sha256": "0" * 63}, "sha256: expected 64 lower-case hex"),
        ({"key_id": "0" * 15}, "key_id: expected 16 lower-case hex"),
        ({"created": "2025-02-30T00:00:00Z"}, "created: expected a UTC time"),
        ({"created": "2025-01-02 03:04:05"}, "created: expected a UTC time"),
    ],
)
def test_statement_rejects_bad_fields(
    key: SecretKey, change: dict[str, object], message: str
) -> None:
    doc: dict[str, object] = {**statement_doc(make_statement(key)), **change}
    with pytest.raises(SignatureError, match=re.escape(message)):
        Statement.from_bytes(canonical(doc))


def test_statement_rejects_missing_field_and_non_objects(key: SecretKey) -> None:
    doc = statement_doc(make_statement(key))
    del doc["created"]
    for data in (canonical(doc), b"[]", b"null", b"{", b"\xff\xfe", '{"n":"\u00e9"}'.encode()):
        with pytest.raises(SignatureError):
            Statement.from_bytes(data)


def test_statement_constructor_validates(key: SecretKey) -> None:
    with pytest.raises(UsageError, match="name: expected"):
        make_statement(key, name="../etc")
    with pytest.raises(UsageError, match="sha256: expected"):
        make_statement(key, sha256="xyz")


# --- .sig files ----------------------------------------------------------------------------


def test_sign_parse_verify_round_trip(key: SecretKey) -> None:
    statement = make_statement(key)
    text = sign_statement(statement, key)
    first, second, rest = text.split("\n")
    assert rest == "" and first.encode() == statement.to_bytes()
    assert second.startswith("ed25519:") and len(base64.b64decode(second[8:])) == 64
    for data in (text, text.encode()):
        envelope = parse_signature_file(data)
        assert envelope.statement == statement
        assert envelope.statement_bytes == statement.to_bytes()
        verify_envelope(envelope, key.public_key)


def test_rfc8032_key_signs_verifiably() -> None:
    key = SecretKey(RFC_SEED)
    envelope = parse_signature_file(sign_statement(make_statement(key), key))
    verify_envelope(envelope, parse_public_key("ed25519:" + RFC_PUBLIC.hex()))


def test_sign_refuses_statement_for_another_key(key: SecretKey, other_key: SecretKey) -> None:
    with pytest.raises(UsageError, match="key_id: expected"):
        sign_statement(make_statement(other_key), key)


def test_tampered_statement_fails_verification(key: SecretKey) -> None:
    text = sign_statement(make_statement(key), key)
    tampered = text.replace('"version":"0.3.0"', '"version":"0.3.1"')
    envelope = parse_signature_file(tampered)  # well formed, so it parses
    with pytest.raises(SignatureError, match="does not verify"):
        verify_envelope(envelope, key.public_key)


def test_tampered_signature_fails_verification(key: SecretKey) -> None:
    envelope = parse_signature_file(sign_statement(make_statement(key), key))
    for i in (0, 31, 32, 63):
        sig = bytearray(envelope.signature)
        sig[i] ^= 0x01
        with pytest.raises(SignatureError, match="does not verify"):
            verify_envelope(dataclasses.replace(envelope, signature=bytes(sig)), key.public_key)


def test_every_single_byte_change_is_a_signature_error(key: SecretKey) -> None:
    data = sign_statement(make_statement(key), key).encode()
    for i in range(len(data)):
        for flip in (0x01, 0x20, 0x80):
            broken = bytearray(data)
            broken[i] ^= flip
            with pytest.raises(SignatureError):
                verify_envelope(parse_signature_file(bytes(broken)), key.public_key)


def test_verify_with_another_key(key: SecretKey, other_key: SecretKey) -> None:
    envelope = parse_signature_file(sign_statement(make_statement(key), key))
    with pytest.raises(SignatureError, match="expected a signature by key"):
        verify_envelope(envelope, other_key.public_key)


def test_verify_refuses_inconsistent_envelope(key: SecretKey) -> None:
    envelope = parse_signature_file(sign_statement(make_statement(key), key))
    forged = dataclasses.replace(envelope, statement=make_statement(key, version="9.9.9"))
    with pytest.raises(SignatureError, match="signed bytes"):
        verify_envelope(forged, key.public_key)


def test_no_nacl_exception_escapes_odd_inputs(key: SecretKey) -> None:
    envelope = parse_signature_file(sign_statement(make_statement(key), key))
    for sig in (b"", b"\x00" * 63, b"\x00" * 65, envelope.signature[:63]):
        with pytest.raises(SignatureError):
            verify_envelope(dataclasses.replace(envelope, signature=sig), key.public_key)
    # A small-order public key (all zeros) is refused by libsodium, not accepted.
    zero = PublicKey(b"\x00" * 32)
    statement = make_statement(key, key_id=zero.key_id)
    odd = SignatureEnvelope(statement, statement.to_bytes(), b"\x00" * 64)
    with pytest.raises(SignatureError):
        verify_envelope(odd, zero)


def _sig_lines(key: SecretKey) -> tuple[str, str]:
    first, second, _ = sign_statement(make_statement(key), key).split("\n")
    return first, second


@pytest.mark.parametrize(
    "build",
    [
        lambda a, b: f"{a}\r\n{b}\r\n",  # CRLF
        lambda a, b: f"{a}\n{b}",  # no final newline
        lambda a, b: f"{a}\n{b}\n\n",  # extra blank line
        lambda a, b: f"{a}\n{b}\n{b}\n",  # extra line
        lambda a, b: f"{b}\n{a}\n",  # swapped
        lambda a, b: f"{a}\n",  # no signature
        lambda a, b: f"{a} \n{b}\n",  # trailing space on the statement
        lambda a, b: f"{a}\n{b} \n",  # trailing space on the signature
        lambda a, b: f"{a}\n{b[8:]}\n",  # signature without prefix
        lambda a, b: f"{a}\n{b.replace('ed25519:', 'ED25519:')}\n",
        lambda a, b: f"{a}\nsignature: {b}\n",
        lambda a, b: f"{a}\ned25519:{base64.b64encode(b'x' * 63).decode()}\n",  # 63 bytes
        lambda a, b: f"{a}\ned25519:{base64.b64encode(b'x' * 65).decode()}\n",  # 65 bytes
        lambda a, b: f"{a}\ned25519:@@@@garbage@@@@\n",
        lambda a, b: f"{a}\ned25519:{b[8:].rstrip('=')}\n",  # unpadded base64
        lambda a, b: f"{a}\n{b}\n".replace("expert-sql", "expert-sql\u00e9"),  # non-ASCII
        lambda a, b: "",
    ],
)
def test_parse_signature_file_is_strict(key: SecretKey, build: Callable[[str, str], str]) -> None:
    a, b = _sig_lines(key)
    with pytest.raises(SignatureError):
        parse_signature_file(build(a, b))


def test_parse_signature_file_size_cap(key: SecretKey) -> None:
    a, b = _sig_lines(key)
    huge = f"{a}\n{b}\n" + " " * MAX_SIGNATURE_FILE_BYTES
    with pytest.raises(SignatureError, match="at most 16384 bytes"):
        parse_signature_file(huge.encode())


def test_all_signing_errors_are_verification_errors() -> None:
    assert issubclass(SignatureError, VerificationError)
    assert issubclass(SignatureError, HxpmError)


def test_only_signing_module_imports_nacl() -> None:
    root = Path(hxpm.__file__).parent
    allowed = root / "package" / "signing.py"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path == allowed:
            continue
        source = path.read_text(encoding="utf-8")
        names: list[str] = []
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
        if any(n == "nacl" or n.startswith("nacl.") for n in names) or re.search(
            r"""(import_module|__import__)\(\s*["']nacl""", source
        ):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
    assert "import nacl" in allowed.read_text()  # the test would be vacuous otherwise


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-02-28T23:59:59Z", True),
        ("2024-02-29T00:00:00Z", True),  # a leap day
        ("2026-02-29T00:00:00Z", False),  # not a leap year
        ("2026-04-31T00:00:00Z", False),
        ("2026-13-01T00:00:00Z", False),
        ("2026-00-10T00:00:00Z", False),
        ("2026-01-01T24:00:00Z", False),
        ("2026-01-01T00:60:00Z", False),
        ("2026-01-01T00:00:60Z", False),
        ("2026-01-01 00:00:00Z", False),
        ("2026-01-01T00:00:00", False),
        ("２０２６-01-01T00:00:00Z", False),  # other digits than ASCII ones
    ],
)
def test_statement_times_are_real_utc_calendar_times(value: str, ok: bool) -> None:
    from hxpm.package.signing import is_utc_timestamp

    assert is_utc_timestamp(value) is ok
