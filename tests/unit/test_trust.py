"""Trust policy: scoped keys and the full signature check, with real keys and signatures."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hxpm.errors import (
    SignatureError,
    StatementMismatchError,
    UntrustedKeyError,
    UsageError,
    VerificationError,
)
from hxpm.package.signing import (
    SecretKey,
    SignatureEnvelope,
    generate_secret_key,
    parse_signature_file,
    sign_statement,
)
from hxpm.trust_policy import (
    PackageFacts,
    TrustedKey,
    VerifiedSignature,
    make_trusted_key,
    statement_for,
    verify_signature,
)

NOW = "2025-06-01T12:00:00Z"


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return generate_secret_key()


@pytest.fixture(scope="module")
def other_key() -> SecretKey:
    return generate_secret_key()


@pytest.fixture()
def facts() -> PackageFacts:
    return PackageFacts(
        name="expert-sql",
        version="0.3.0",
        base_model="Qwen/Qwen3-0.6B",
        base_sha256=_hex(b"base"),
        tree_sha256=_hex(b"tree"),
        sha256=_hex(b"archive"),
    )


def signed(facts: PackageFacts, key: SecretKey) -> SignatureEnvelope:
    """Sign ``facts`` for real and read the .sig text back, as an installer would."""
    return parse_signature_file(sign_statement(statement_for(facts, key), key))


def trust(
    key: SecretKey, *scopes: str, publisher: str = "Acme Labs", source: str = "user"
) -> TrustedKey:
    return make_trusted_key(
        key.public_key.text, publisher=publisher, scopes=scopes or ("*",), source=source, now=NOW
    )


# --- trust records -------------------------------------------------------------------------


def test_make_trusted_key(key: SecretKey) -> None:
    record = make_trusted_key(key.public_key.text, publisher="  Acme Labs ", now=NOW)
    assert record == TrustedKey(
        key_id=key.public_key.key_id,
        public_key=key.public_key,
        publisher="Acme Labs",
        scopes=("*",),
        added_at=NOW,
        source="user",
    )


def test_make_trusted_key_accepts_legacy_hex_and_key_files(key: SecretKey) -> None:
    legacy = "ed25519:" + key.public_key.raw.hex()
    assert make_trusted_key(legacy, publisher="p", now=NOW).public_key == key.public_key
    file_text = f"# publisher key\n{key.public_key.text}\n"
    assert make_trusted_key(file_text, publisher="p", now=NOW).key_id == key.public_key.key_id


def test_make_trusted_key_defaults_added_at_to_now(key: SecretKey) -> None:
    record = make_trusted_key(key.public_key.text, publisher="p")
    added = datetime.strptime(record.added_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - added) < timedelta(minutes=1)


def test_scopes_are_cleaned_and_a_bare_string_is_one_scope(key: SecretKey) -> None:
    record = make_trusted_key(
        key.public_key.text, publisher="p", scopes=[" expert-sql* ", "expert-sql*", "x"], now=NOW
    )
    assert record.scopes == ("expert-sql*", "x")
    single = make_trusted_key(key.public_key.text, publisher="p", scopes="expert-sql", now=NOW)
    assert single.scopes == ("expert-sql",)


@pytest.mark.parametrize(
    ("scopes", "name", "expected"),
    [
        (("*",), "expert-anything", True),
        (("expert-sql*",), "expert-sql", True),
        (("expert-sql*",), "expert-sql-v2", True),
        (("expert-sql*",), "expert-json", False),
        (("expert-sql",), "expert-sqlite", False),
        (("expert-[a-m]*",), "expert-json", True),
        (("expert-[a-m]*",), "expert-sql", False),
        (("expert-?ql",), "expert-sql", True),
        (("expert-json", "expert-sql"), "expert-sql", True),
    ],
)
def test_covers(key: SecretKey, scopes: tuple[str, ...], name: str, expected: bool) -> None:
    assert trust(key, *scopes).covers(name) is expected


@pytest.mark.parametrize("publisher", ["", "   ", "x" * 65, "two\nlines", "bell\a"])
def test_bad_publisher(key: SecretKey, publisher: str) -> None:
    with pytest.raises(UsageError, match="publisher: expected"):
        make_trusted_key(key.public_key.text, publisher=publisher, now=NOW)


@pytest.mark.parametrize(
    "scopes", [(), ("",), ("Expert-SQL",), ("expert/sql",), ("expert sql",), ("x" * 129,)]
)
def test_bad_scopes(key: SecretKey, scopes: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match="scope"):
        make_trusted_key(key.public_key.text, publisher="p", scopes=scopes, now=NOW)


def test_bad_key_text_source_and_time(key: SecretKey) -> None:
    with pytest.raises(SignatureError):
        make_trusted_key("ed25519:abc", publisher="p", now=NOW)
    with pytest.raises(UsageError, match="source"):
        make_trusted_key(key.public_key.text, publisher="p", source="somewhere", now=NOW)
    with pytest.raises(UsageError, match="added_at"):
        make_trusted_key(key.public_key.text, publisher="p", now="yesterday")
    ok = make_trusted_key(key.public_key.text, publisher="p", source="index:main", now=NOW)
    assert ok.source == "index:main"


def test_trusted_key_record_must_match_its_key(key: SecretKey, other_key: SecretKey) -> None:
    record = trust(key)
    with pytest.raises(UsageError, match="trusted key id"):
        dataclasses.replace(record, key_id=other_key.public_key.key_id)


# --- statement_for -------------------------------------------------------------------------


def test_statement_for(facts: PackageFacts, key: SecretKey) -> None:
    stamp = datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    statement = statement_for(facts, key, now=stamp)
    assert statement.created == "2025-01-02T03:04:05Z"
    assert statement.key_id == key.public_key.key_id
    assert (statement.name, statement.version, statement.sha256) == (
        facts.name,
        facts.version,
        facts.sha256,
    )
    naive = statement_for(facts, key, now=datetime(2025, 1, 2, 3, 4, 5))
    assert naive.created == "2025-01-02T03:04:05Z"


def test_statement_for_rejects_bad_facts(facts: PackageFacts, key: SecretKey) -> None:
    with pytest.raises(UsageError, match="tree_sha256"):
        statement_for(dataclasses.replace(facts, tree_sha256="nope"), key)


# --- verify_signature ----------------------------------------------------------------------


def test_verified(facts: PackageFacts, key: SecretKey, other_key: SecretKey) -> None:
    envelope = signed(facts, key)
    result = verify_signature(envelope, facts, [trust(other_key), trust(key, "expert-sql*")])
    assert result == VerifiedSignature(
        key_id=key.public_key.key_id, publisher="Acme Labs", statement=envelope.statement
    )


def test_legacy_unknown_base_digest_verifies_when_both_unknown(
    facts: PackageFacts, key: SecretKey
) -> None:
    legacy = dataclasses.replace(facts, base_sha256="")
    verify_signature(signed(legacy, key), legacy, [trust(key)])
    with pytest.raises(StatementMismatchError, match="base_sha256"):
        verify_signature(signed(legacy, key), facts, [trust(key)])


def test_untrusted_key(facts: PackageFacts, key: SecretKey, other_key: SecretKey) -> None:
    key_id = key.public_key.key_id
    for trusted in ([], [trust(other_key)]):
        with pytest.raises(UntrustedKeyError) as info:
            verify_signature(signed(facts, key), facts, trusted)
        err = info.value
        assert key_id in err.message and "expert-sql" in err.message
        assert err.hint is not None
        assert "get the publisher's public key" in err.hint
        assert "hxpm trust add <key> --name <publisher> --experts 'expert-sql'" in err.hint
        assert err.details == {"key_id": key_id, "expert": "expert-sql"}


def test_key_trusted_for_other_experts_only(facts: PackageFacts, key: SecretKey) -> None:
    json_facts = dataclasses.replace(facts, name="expert-json")
    with pytest.raises(UntrustedKeyError) as info:
        verify_signature(signed(json_facts, key), json_facts, [trust(key, "expert-sql*")])
    expected = (
        f"key {key.public_key.key_id} (publisher Acme Labs) is trusted for 'expert-sql*', "
        "not for 'expert-json'"
    )
    assert info.value.message == expected
    assert info.value.hint is not None
    assert f"hxpm trust add {key.public_key.text}" in info.value.hint
    assert "--experts 'expert-json'" in info.value.hint


def test_scope_is_checked_against_the_real_package_name(
    facts: PackageFacts, key: SecretKey
) -> None:
    # The signature says expert-sql (in scope), but the package is expert-json (not in scope):
    # trust is decided by what would be installed.
    json_facts = dataclasses.replace(facts, name="expert-json")
    with pytest.raises(UntrustedKeyError, match="not for 'expert-json'"):
        verify_signature(signed(facts, key), json_facts, [trust(key, "expert-sql*")])


def test_index_record_covers_when_user_record_does_not(facts: PackageFacts, key: SecretKey) -> None:
    records = [
        trust(key, "expert-json", publisher="Me"),
        trust(key, "expert-sql", publisher="Acme via index", source="index:main"),
    ]
    assert verify_signature(signed(facts, key), facts, records).publisher == "Acme via index"
    records.append(trust(key, "*", publisher="Me too"))
    assert verify_signature(signed(facts, key), facts, records).publisher == "Me too"


def test_bad_signature_under_trusted_key(facts: PackageFacts, key: SecretKey) -> None:
    envelope = signed(facts, key)
    broken = dataclasses.replace(envelope, signature=bytes(64))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(broken, facts, [trust(key)])


def test_forged_signature_claiming_a_trusted_key_id(
    facts: PackageFacts, key: SecretKey, other_key: SecretKey
) -> None:
    # An attacker signs with their own key but writes the trusted key's id into the
    # statement: the statement bytes are the trusted key's, the signature is theirs.
    genuine = signed(facts, key)
    theirs = signed(facts, other_key)
    forged = dataclasses.replace(genuine, signature=theirs.signature)
    with pytest.raises(SignatureError):
        verify_signature(forged, facts, [trust(key), trust(other_key)])


def test_trust_is_checked_before_the_signature(facts: PackageFacts, key: SecretKey) -> None:
    broken = dataclasses.replace(signed(facts, key), signature=bytes(64))
    with pytest.raises(UntrustedKeyError):
        verify_signature(broken, facts, [])


def test_signature_is_checked_before_the_facts(facts: PackageFacts, key: SecretKey) -> None:
    broken = dataclasses.replace(signed(facts, key), signature=bytes(64))
    with pytest.raises(SignatureError):
        verify_signature(broken, dataclasses.replace(facts, version="9.9.9"), [trust(key)])


@pytest.mark.parametrize(
    ("field", "actual"),
    [
        ("name", "expert-json"),  # a swapped package
        ("version", "0.2.0"),  # a downgrade
        ("base_model", "Qwen/Qwen3-1.7B"),  # a build for another base
        ("base_sha256", _hex(b"another base")),
        ("tree_sha256", _hex(b"tampered tree")),
        ("sha256", _hex(b"tampered archive")),
    ],
)
def test_valid_signature_for_another_package(
    facts: PackageFacts, key: SecretKey, field: str, actual: str
) -> None:
    envelope = signed(facts, key)
    package = dataclasses.replace(facts, **{field: actual})
    with pytest.raises(StatementMismatchError) as info:
        verify_signature(envelope, package, [trust(key)])
    err = info.value
    signed_value = getattr(facts, field)
    assert err.message == (
        f"signed statement {field}: the signature says {signed_value!r}, the package is {actual!r}"
    )
    assert err.details == {"field": field, "signed": signed_value, "actual": actual}
    assert err.hint


def test_every_failure_is_a_verification_error() -> None:
    for cls in (UntrustedKeyError, SignatureError, StatementMismatchError):
        assert issubclass(cls, VerificationError)


def test_messages_never_show_secret_material(facts: PackageFacts, key: SecretKey) -> None:
    with pytest.raises(UntrustedKeyError) as info:
        verify_signature(signed(facts, key), facts, [])
    text = f"{info.value.message} {info.value.hint} {info.value.details}"
    assert key.seed.hex() not in text
    assert not re.search(r"nacl", text, re.IGNORECASE)
