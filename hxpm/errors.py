"""One error root for hxpm, with families grouped by who must act.

Every error carries a message (what went wrong: "expected X, got Y"), an optional hint (the
next step for the user), a stable kebab-case ``code`` and a stable process exit code
(docs/architecture.md §10). Library code raises these; only the CLI turns them into output
and an exit.

Exit codes: 0 ok, 1 generic, 2 usage, 3 resolution conflict, 4 not found,
5 verification failed, 6 network/offline, 7 store/IO.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HxpmError(Exception):
    """Root of every error hxpm raises on purpose."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    default_hint: ClassVar[str | None] = None

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of an error (``--json`` output)."""
        return {
            "error": self.code,
            "exit_code": self.exit_code,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


# --- 2: usage ------------------------------------------------------------------------------


class UsageError(HxpmError):
    """The command line asked for something malformed or contradictory."""

    code = "usage"
    exit_code = 2


class InvalidRequirementError(UsageError):
    code = "invalid-requirement"
    default_hint = (
        "Write requirements as NAME, NAME@1.2.3, NAME@>=1.0,<2.0, NAME@^1.2 or NAME@~1.2."
    )


# --- 1: bad author input (manifests, expert directories) -----------------------------------


class ManifestError(HxpmError):
    """A manifest is not valid. ``problems`` lists (json path, value, expectation)."""

    code = "invalid-manifest"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        problems: list[tuple[str, Any, str]] | None = None,
        hint: str | None = None,
    ) -> None:
        self.problems = list(problems or [])
        details = {
            "problems": [
                {"path": p, "value": _jsonable(v), "expected": e} for p, v, e in self.problems
            ]
        }
        super().__init__(message, hint=hint, details=details)


class PackageBuildError(HxpmError):
    """An expert directory cannot be packaged (missing weights, pickles, bad variant)."""

    code = "package-build"
    exit_code = 1


class UnsupportedAdapterError(PackageBuildError):
    """A PEFT adapter uses a kind or feature hxpm cannot run (PiSSA, modules_to_save, ...)."""

    code = "unsupported-adapter"


class DatasetError(HxpmError):
    """A dataset file does not fit: ``details`` names the file, line, field and expectation."""

    code = "invalid-dataset"
    exit_code = 1
    default_hint = (
        "Each line of a dataset is one JSON object, all in one format; "
        "`hxpm dataset validate FILE` lists the problems (docs/datasets.md)."
    )

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.line, self.field, self.expected = file, line, field, expected
        details = {"file": file, "line": line, "field": field, "expected": expected}
        super().__init__(message, hint=hint, details=details)


class GrammarError(HxpmError):
    """A GBNF grammar or JSON Schema does not compile: ``details`` names file and line."""

    code = "invalid-grammar"
    exit_code = 1
    default_hint = (
        "Fix the grammar at the line named; GBNF follows llama.cpp's grammar format "
        "(docs/grammar.md)."
    )

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        expected: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.line, self.expected = file, line, expected
        details = {"file": file, "line": line, "expected": expected}
        super().__init__(message, hint=hint, details=details)


class InferenceError(HxpmError):
    """The runtime cannot load or run a model or an adapter (not a verification problem)."""

    code = "inference"
    exit_code = 1


class RuntimeMissingError(HxpmError):
    """A command needs the runtime extra (torch, transformers, peft), which is not installed."""

    code = "runtime-missing"
    exit_code = 1
    default_hint = (
        "Install the runtime: pip install 'hxpm[runtime]' (for a CPU-only torch, "
        "first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
    )


# --- 3: resolution -------------------------------------------------------------------------


class ResolutionError(HxpmError):
    """The requirements cannot be satisfied together; ``details["report"]`` explains why."""

    code = "resolution-conflict"
    exit_code = 3


class DependencyCycleError(ResolutionError):
    """Experts require each other in a cycle."""

    code = "dependency-cycle"


class MaxChainError(ResolutionError):
    """The resolved set is larger than an expert's ``max_chain`` allows."""

    code = "max-chain"


# --- 4: not found --------------------------------------------------------------------------


class NotFoundError(HxpmError):
    code = "not-found"
    exit_code = 4


# --- 5: verification (attack or corruption) ------------------------------------------------


class VerificationError(HxpmError):
    """Something did not verify. Never install or load what raised it."""

    code = "verification-failed"
    exit_code = 5


class IntegrityError(VerificationError):
    """A digest, size or structural check failed (tampering or corruption)."""

    code = "integrity"
    default_hint = (
        "The bytes differ from what was published or signed: do not use them; "
        "fetch again from a source you trust."
    )


class PackageFormatError(VerificationError):
    """An archive is malformed or hostile (traversal, links, bombs, forbidden members)."""

    code = "bad-package"


class SignatureError(VerificationError):
    """A signature is malformed or does not verify."""

    code = "bad-signature"


class UnsignedPackageError(VerificationError):
    code = "unsigned"
    default_hint = (
        "Ask the publisher for the .sig file, or install anyway with --unsafe-allow-unsigned."
    )


class UntrustedKeyError(VerificationError):
    code = "untrusted-key"


class StatementMismatchError(VerificationError):
    """A valid signature whose statement describes another package."""

    code = "statement-mismatch"


class BaseMismatchError(VerificationError):
    code = "base-mismatch"


class IndexDataError(VerificationError):
    """Index data (config.json, a version line) is malformed, unknown or inconsistent."""

    code = "bad-index"


class RollbackError(VerificationError):
    """An index's new head does not descend from the last commit hxpm accepted."""

    code = "index-rollback"
    default_hint = "If the index owner really rewrote history, pass --allow-rewind."


# --- 6: network / offline ------------------------------------------------------------------


class NetworkError(HxpmError):
    code = "network"
    exit_code = 6


class OfflineError(NetworkError):
    code = "offline"
    default_hint = "Unset HXPM_OFFLINE / drop --offline, or fill the cache while online."


class AuthenticationError(NetworkError):
    """The server wants credentials (HTTP 401): none were found, or it refused them."""

    code = "authentication"


# --- 7: store / IO -------------------------------------------------------------------------


class StoreError(HxpmError):
    code = "store"
    exit_code = 7


class StoreLockedError(StoreError):
    code = "store-locked"
    default_hint = "Another hxpm process holds the store lock; wait for it and retry."


# The table behind `docs/errors.md`: every family with its code, exit code and default hint.
ERROR_FAMILIES: tuple[type[HxpmError], ...] = (
    HxpmError,
    UsageError,
    InvalidRequirementError,
    ManifestError,
    PackageBuildError,
    DatasetError,
    GrammarError,
    InferenceError,
    RuntimeMissingError,
    ResolutionError,
    DependencyCycleError,
    MaxChainError,
    NotFoundError,
    VerificationError,
    IntegrityError,
    PackageFormatError,
    SignatureError,
    UnsignedPackageError,
    UntrustedKeyError,
    StatementMismatchError,
    BaseMismatchError,
    IndexDataError,
    RollbackError,
    NetworkError,
    OfflineError,
    AuthenticationError,
    StoreError,
    StoreLockedError,
)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
