"""What a ``.expert`` archive may contain, and how much of it a reader accepts
(docs/architecture.md §3).

A package is a flat tar: ``manifest.json`` first, then ``adapter_config.json``,
``adapter_model.safetensors`` and a fixed set of optional files. The only sub-folder is
``soft_prompts/`` holding ``<name>.safetensors`` files. Pickle-based files are never allowed:
loading a pickle runs arbitrary code.

Legacy gzip packages written by the original ``expert-cli`` may also carry members hxpm never
installs: ``signature.sig`` (its broken self-signature), ``tests/...`` (``--include-tests``),
``training_args.bin`` (the HF Trainer's arguments, a pickle, copied from the checkpoint
folder) and ``<file>.sha256`` (the checksum sidecars that sit beside published packages). A
reader checks these like any member (names, types, sizes), then streams past their bytes: they
are never extracted, never unpickled, not listed as members and not in the tree digest (the
installed tree is exactly what was extracted, so ``verify --store`` holds; the older tool's
signature never covered hxpm's tree digest anyway). Any other pickle is refused, and a zstd
package may hold none of these. Legacy packages may also name their grammar after
``decoding.grammar_file`` (``<name>.gbnf``).
"""

from __future__ import annotations

import enum
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

from hxpm.core.manifest_checks import is_pickle_name, soft_prompt_pickle_message
from hxpm.errors import PackageFormatError

MANIFEST = "manifest.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
REQUIRED_MEMBERS: tuple[str, ...] = (MANIFEST, ADAPTER_CONFIG, ADAPTER_WEIGHTS)

TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)
# Files that describe the expert as a whole rather than one base-model variant.
SHARED_FILES: tuple[str, ...] = ("README.md", "LICENSE", "grammar.gbnf")
# Files trained for one base model (they live in weights/<slug>/ when the expert has several).
VARIANT_FILES: tuple[str, ...] = (ADAPTER_CONFIG, ADAPTER_WEIGHTS, *TOKENIZER_FILES)
# Written by `hxpm package` from the training prompts (hxpm/routing/profile.py), never copied.
ROUTING_PROFILE = "routing_profile.json"
FLAT_MEMBERS: frozenset[str] = frozenset(
    (*REQUIRED_MEMBERS, *TOKENIZER_FILES, *SHARED_FILES, ROUTING_PROFILE)
)

SOFT_PROMPT_DIR = "soft_prompts"
SOFT_PROMPT_SUFFIX = ".safetensors"
# A name of at most 75 characters keeps "soft_prompts/<name>.safetensors" within the 100-byte
# USTAR name field, so built archives never need PAX extension headers.
SOFT_PROMPT_RE = re.compile(r"^soft_prompts/[A-Za-z0-9][A-Za-z0-9._-]{0,74}\.safetensors$")

LEGACY_SIGNATURE = "signature.sig"
LEGACY_TESTS_DIR = "tests"
LEGACY_TRAINING_ARGS = "training_args.bin"  # a pickle: skipped unread, never loaded
_LEGACY_CHECKSUM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.sha256$")
_LEGACY_GRAMMAR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.gbnf$")
_SAFE_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


class MemberKind(enum.Enum):
    """How a reader treats a member once its name is allowed."""

    MANIFEST = "manifest"  # parsed in memory (max_manifest_size)
    ADAPTER_CONFIG = "adapter-config"  # parsed in memory as a JSON object (max_json_size)
    SAFETENSORS = "safetensors"  # header checked while streaming
    ROUTING_PROFILE = "routing-profile"  # parsed in memory and checked (64 KiB at most)
    FILE = "file"  # hashed and extracted as is
    LEGACY_IGNORED = "legacy-ignored"  # legacy only: checked, then skipped


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Caps a reader enforces on hostile input. All sizes are in bytes of uncompressed data.

    ``max_ratio`` is checked on the whole stream (uncompressed / compressed bytes so far) once
    more than ``ratio_grace`` bytes came out, so a few KB cannot expand to GBs; real weights
    compress by far less than 2:1.
    """

    max_members: int = 256
    max_member_size: int = 8 * GIB
    max_total_size: int = 16 * GIB
    max_json_size: int = 16 * MIB
    max_manifest_size: int = 1 * MIB
    max_ratio: int = 200
    ratio_grace: int = 16 * MIB
    max_metadata_size: int = 64 * KIB  # one PAX / GNU long-name header block
    max_zstd_window: int = 32 * MIB

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"ReadLimits.{name}: expected a positive int, got {value!r}")

    @property
    def max_stream_size(self) -> int:
        """Upper bound on the whole uncompressed tar stream: members plus header overhead."""
        per_member = self.max_metadata_size + 2 * 512
        return self.max_total_size + (self.max_members + 1) * per_member + 64 * MIB


DEFAULT_LIMITS = ReadLimits()


def normalise_member_name(raw: str) -> str:
    """Return the canonical form of a tar member name, refusing anything unsafe.

    Leading/inner ``.`` parts and one trailing ``/`` are dropped (``./a`` is ``a``), so that
    duplicate detection sees through spelling tricks.

    Raises:
        PackageFormatError: the name is empty, absolute, has ``..``, a backslash, an empty
            part (``a//b``) or a NUL/control character.
    """
    if not isinstance(raw, str) or raw == "":
        raise PackageFormatError(f"member {raw!r}: empty member name")
    if _CONTROL_RE.search(raw):
        raise PackageFormatError(f"member {raw!r}: name contains a NUL or control character")
    if "\\" in raw:
        raise PackageFormatError(f"member {raw!r}: name contains a backslash")
    if raw.startswith("/"):
        raise PackageFormatError(f"member {raw!r}: absolute path")
    parts = raw.removesuffix("/").split("/")
    if ".." in parts:
        raise PackageFormatError(f"member {raw!r}: path escapes the package ('..')")
    if "" in parts:
        raise PackageFormatError(f"member {raw!r}: name has an empty path part")
    kept = [part for part in parts if part != "."]
    if not kept:
        raise PackageFormatError(f"member {raw!r}: empty member name")
    return "/".join(kept)


def _is_legacy_test_path(name: str) -> bool:
    parts = name.split("/")
    return parts[0] == LEGACY_TESTS_DIR and all(_SAFE_PART_RE.match(p) for p in parts[1:])


def legacy_skip_reason(name: str) -> str:
    """Why a legacy-only member is skipped, for the warning that lists it."""
    if name == LEGACY_TRAINING_ARGS:
        return "HF Trainer arguments, a pickle"
    if name == LEGACY_SIGNATURE:
        return "the older tool's self-signature"
    if name.endswith(".sha256"):
        return "a checksum sidecar"
    return "the older tool's tests"


def _is_legacy_skipped(name: str) -> bool:
    return (
        name in (LEGACY_SIGNATURE, LEGACY_TRAINING_ARGS)
        or _LEGACY_CHECKSUM_RE.match(name) is not None
        or (name != LEGACY_TESTS_DIR and _is_legacy_test_path(name) and not is_pickle_name(name))
    )


def classify_member(name: str, *, legacy: bool) -> MemberKind:
    """The kind of an allowed file member (``name`` already normalised).

    Raises:
        PackageFormatError: a pickle ("pickle files run code") or a name outside the layout.
    """
    if legacy and _is_legacy_skipped(name):
        return MemberKind.LEGACY_IGNORED
    if is_pickle_name(name):
        if name.startswith(f"{SOFT_PROMPT_DIR}/"):
            raise PackageFormatError(
                f"member {name!r}: pickle files run code when loaded; "
                f"{soft_prompt_pickle_message(name)}",
                hint="Package the converted file instead.",
            )
        raise PackageFormatError(
            f"member {name!r}: pickle files run code when loaded; packages carry safetensors only",
            hint="Convert the weights to .safetensors and package again.",
        )
    if name == MANIFEST:
        return MemberKind.MANIFEST
    if name == ADAPTER_CONFIG:
        return MemberKind.ADAPTER_CONFIG
    if name == ADAPTER_WEIGHTS or SOFT_PROMPT_RE.match(name):
        return MemberKind.SAFETENSORS
    if name == ROUTING_PROFILE:
        return MemberKind.ROUTING_PROFILE
    if name in FLAT_MEMBERS:
        return MemberKind.FILE
    if legacy and _LEGACY_GRAMMAR_RE.match(name):
        return MemberKind.FILE
    raise PackageFormatError(
        f"member {name!r}: not allowed in a package; expected one of "
        f"{', '.join(sorted(FLAT_MEMBERS))} or soft_prompts/<name>.safetensors"
    )


def check_member_type(member: tarfile.TarInfo, name: str) -> None:
    """Only regular files carry content; links, devices, FIFOs and sparse files are refused.

    Raises:
        PackageFormatError: naming the member and its type.
    """
    if member.issym():
        raise PackageFormatError(
            f"member {name!r}: symbolic links are not allowed (points to {member.linkname!r})"
        )
    if member.islnk():
        raise PackageFormatError(
            f"member {name!r}: hard links are not allowed (points to {member.linkname!r})"
        )
    if member.ischr() or member.isblk():
        raise PackageFormatError(f"member {name!r}: device files are not allowed")
    if member.isfifo():
        raise PackageFormatError(f"member {name!r}: FIFOs are not allowed")
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse is not None:
        raise PackageFormatError(f"member {name!r}: unsupported tar member type {member.type!r}")


def is_allowed_directory(name: str, *, legacy: bool) -> bool:
    """Directory entries are tolerated (and skipped) only for the folders a layout has."""
    if name == SOFT_PROMPT_DIR:
        return True
    return legacy and _is_legacy_test_path(name)


def canonical_order(names: Iterable[str]) -> list[str]:
    """Archive order for built packages: ``manifest.json`` first, then sorted by name."""
    return sorted(names, key=lambda n: (n != MANIFEST, n))
