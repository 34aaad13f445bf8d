"""Limits on network operations, shared by the Git transports and plain HTTP downloads.

Settings come from the environment, read when an operation starts (docs/network.md,
"Timeouts and limits"):

- ``HXPM_NET_TIMEOUT``: seconds to wait for a connection or for the next bytes.
- ``HXPM_NET_DEADLINE`` and ``HXPM_NET_MIN_RATE``: the overall time one operation may take
  is the deadline plus one second per ``HXPM_NET_MIN_RATE`` bytes received. A fixed deadline
  alone would have to be hours long for a legitimate multi-GiB pack, which would let a server
  that drips a byte now and then hold hxpm that long; scaling it by what arrived keeps both
  bounded: a dripping server is cut at the deadline, a large honest transfer at a useful
  rate always finishes.
- ``HXPM_MAX_REFS`` / ``HXPM_MAX_REF_BYTES``: caps on a Git server's ref advertisement.
- ``HXPM_MAX_PACK_BYTES``: cap on one Git pack transfer.

A limit that is hit becomes a :class:`~hxpm.errors.NetworkError` (exit 6) naming the server,
the limit and the setting that raises it.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from hxpm.errors import NetworkError, UsageError

ENV_TIMEOUT = "HXPM_NET_TIMEOUT"
ENV_DEADLINE = "HXPM_NET_DEADLINE"
ENV_MIN_RATE = "HXPM_NET_MIN_RATE"
ENV_MAX_REFS = "HXPM_MAX_REFS"
ENV_MAX_REF_BYTES = "HXPM_MAX_REF_BYTES"
ENV_MAX_PACK_BYTES = "HXPM_MAX_PACK_BYTES"

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True, slots=True)
class NetLimits:
    """Limits on one remote operation (defaults: the documented ones).

    Attributes:
        timeout_s: Seconds allowed for connecting and between two reads (HXPM_NET_TIMEOUT).
        deadline_s: Base overall seconds for the whole operation (HXPM_NET_DEADLINE).
        min_rate: Bytes received that earn one more second (HXPM_NET_MIN_RATE); 0 makes
            ``deadline_s`` a hard limit.
        max_refs: Most refs a Git server may advertise (HXPM_MAX_REFS).
        max_ref_bytes: Most bytes of ref advertisement (HXPM_MAX_REF_BYTES).
        max_pack_bytes: Largest Git transfer accepted, pack plus progress messages
            (HXPM_MAX_PACK_BYTES); a bigger one raises NetworkError and changes nothing.
    """

    timeout_s: float = 30.0
    deadline_s: float = 300.0
    min_rate: int = 64 * 1024
    max_refs: int = 100_000
    max_ref_bytes: int = 32 * 1024**2
    max_pack_bytes: int = 4 * 1024**3

    @classmethod
    def from_env(cls) -> NetLimits:
        """The defaults, overridden by whichever ``HXPM_*`` settings are set.

        Raises:
            UsageError: A setting is not a positive number (sizes may end in K, M or G).
        """
        default = cls()
        return cls(
            timeout_s=env_seconds(ENV_TIMEOUT, default.timeout_s),
            deadline_s=env_seconds(ENV_DEADLINE, default.deadline_s),
            min_rate=env_size(ENV_MIN_RATE, default.min_rate, allow_zero=True),
            max_refs=env_size(ENV_MAX_REFS, default.max_refs),
            max_ref_bytes=env_size(ENV_MAX_REF_BYTES, default.max_ref_bytes),
            max_pack_bytes=env_size(ENV_MAX_PACK_BYTES, default.max_pack_bytes),
        )


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable ``name``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UsageError(
            f"{name}: expected a positive number of seconds, got {raw[:40]!r}",
            hint=f"Set {name} to e.g. 30, or unset it for the default ({default:g}).",
        )
    return value


def env_size(name: str, default: int, *, allow_zero: bool = False) -> int:
    """A positive count or byte size (``512``, ``64K``, ``32MiB``, ``4G``) from ``name``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    match = _SIZE_RE.match(raw)
    value = int(match.group(1)) * _UNITS[match.group(2).lower()] if match else -1
    if value < 0 or (value == 0 and not allow_zero):
        least = "a non-negative" if allow_zero else "a positive"
        raise UsageError(
            f"{name}: expected {least} whole number (optionally with K, M or G), got {raw[:40]!r}",
            hint=f"Set {name} to e.g. {default}, or unset it for the default.",
        )
    return value


class Deadline:
    """The overall time one operation may take: ``base_s`` plus 1 s per ``min_rate`` bytes."""

    def __init__(
        self, base_s: float, min_rate: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.base_s, self.min_rate = base_s, min_rate
        self._clock = clock
        self._start = clock()
        self.received = 0

    def credit(self, nbytes: int) -> None:
        self.received += nbytes

    def remaining(self) -> float:
        """Seconds left (zero or less once passed)."""
        earned = self.received / self.min_rate if self.min_rate else 0.0
        return self._start + self.base_s + earned - self._clock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def read_timeout(self, timeout_s: float) -> float:
        """How long the next wait may block: ``timeout_s``, less if the deadline is nearer."""
        return max(0.001, min(timeout_s, self.remaining()))


class LimitExceeded(Exception):
    """A network limit was hit; :func:`limit_error` turns it into a NetworkError.

    Raised from inside third-party read loops (it is no OSError, so they let it through).
    """

    def __init__(self, what: str, setting: str, value: str, reason: str) -> None:
        super().__init__(what)
        self.what, self.setting, self.value, self.reason = what, setting, value, reason


def deadline_passed(deadline: Deadline) -> LimitExceeded:
    rate = f" + 1 s per {deadline.min_rate} bytes received" if deadline.min_rate else ""
    return LimitExceeded(
        f"timed out: still not done after {deadline.elapsed():.1f} s, past the overall "
        f"deadline of {deadline.base_s:g} s{rate}",
        ENV_DEADLINE,
        f"{deadline.base_s:g}",
        "timeout",
    )


def stalled(timeout_s: float) -> LimitExceeded:
    return LimitExceeded(
        f"timed out: no data for {timeout_s:g} s", ENV_TIMEOUT, f"{timeout_s:g}", "timeout"
    )


def waited_too_long(deadline: Deadline, timeout_s: float) -> LimitExceeded:
    """The error for a wait that ran out: the deadline's if that was nearer, else the timeout's."""
    return deadline_passed(deadline) if deadline.remaining() <= 0.01 else stalled(timeout_s)


def too_many(what: str, limit: int, setting: str) -> LimitExceeded:
    return LimitExceeded(
        f"expected at most {limit} {what}, got more", setting, str(limit), "too-large"
    )


def limit_error(where: str, hit: LimitExceeded) -> NetworkError:
    """The NetworkError (exit 6) for ``hit`` during ``where`` (e.g. "fetching URL")."""
    if hit.reason == "timeout":
        hint = (
            f"The server stopped sending or is very slow: retry later, or raise "
            f"{hit.setting} if it is only slow."
        )
    else:
        hint = (
            f"If you trust this server and the repository really is this big, raise "
            f"{hit.setting}; otherwise the server is misbehaving."
        )
    return NetworkError(
        f"{where}: {hit.what} ({hit.setting}={hit.value})",
        hint=hint,
        details={"reason": hit.reason, "limit": hit.setting},
    )
