"""Hardened :mod:`tarfile` stream reading for ``.expert`` archives (docs/architecture.md §3).

Stock tarfile trusts its headers more than a reader of hostile archives can. In the stream
(``"r|"``) mode used by :mod:`hxpm.package.reader`, tar headers are parsed through
:class:`GuardedTarInfo`, which guarantees:

- a PAX or GNU long-name/long-link header larger than ``ReadLimits.max_metadata_size`` is
  refused before tarfile reads it into memory;
- sparse files (GNU sparse members and every ``GNU.sparse`` PAX variant) are refused before
  tarfile reads their maps from the member data;
- a bad or cut-off header after the first one is a ``PackageFormatError``, not a quiet end
  of the archive (stock tarfile stops walking there).

:func:`check_trailing` then insists that only NUL padding follows the end-of-archive block.
Member names, types and sizes are the reader's and :mod:`hxpm.package.layout`'s business.
"""

from __future__ import annotations

import tarfile
from typing import TYPE_CHECKING, Any, ClassVar, Self

from hxpm.errors import PackageFormatError
from hxpm.package.compression import READ_SIZE
from hxpm.package.layout import DEFAULT_LIMITS, ReadLimits

if TYPE_CHECKING:
    from hxpm.package.compression import Readable

_METADATA_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
# Not in typeshed's tarfile stubs, but part of tarfile since Python 3.2.
_EOF_HEADER_ERROR: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]


class GuardedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses oversized metadata headers and sparse files before tarfile
    reads them into memory, and reports bad or cut-off headers instead of stopping quietly
    (stock tarfile treats an invalid header after the first as the end of the archive)."""

    max_metadata_size: ClassVar[int] = DEFAULT_LIMITS.max_metadata_size

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as exc:
            if isinstance(exc, _EOF_HEADER_ERROR):
                raise  # the end-of-archive block: tarfile ends the walk
            raise PackageFormatError(
                f"archive is truncated or corrupt (tar header: {exc})"
            ) from None

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _METADATA_TYPES and self.size > self.max_metadata_size:
            raise PackageFormatError(
                f"tar metadata header of {self.size} bytes exceeds the "
                f"{self.max_metadata_size}-byte limit"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise PackageFormatError(f"member {self.name!r}: sparse files are not allowed")
        member: tarfile.TarInfo = super()._proc_member(tarfile_)  # type: ignore[misc]
        return member

    def _refuse_pax_sparse(self, *_: Any) -> None:
        raise PackageFormatError("sparse files (GNU.sparse PAX headers) are not allowed")

    # Older PAX sparse formats make tarfile read an unbounded map from the member data.
    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_pax_sparse


def tarinfo_class(limits: ReadLimits) -> type[tarfile.TarInfo]:
    """:class:`GuardedTarInfo`, or a subclass of it capped at ``limits.max_metadata_size``.

    tarfile takes a class, not an instance, so a non-default cap needs its own class.
    """
    if limits.max_metadata_size == GuardedTarInfo.max_metadata_size:
        return GuardedTarInfo
    cap = {"max_metadata_size": limits.max_metadata_size}
    return type("GuardedTarInfo", (GuardedTarInfo,), cap)


def open_stream(fileobj: Readable, limits: ReadLimits) -> tarfile.TarFile:
    """A forward-only tarfile over ``fileobj`` that parses headers with :func:`tarinfo_class`.

    Names are decoded as UTF-8 with ``surrogateescape``: an undecodable name reaches the
    layout rules as a string rather than failing inside tarfile.
    """
    # The caller closes it (``with open_stream(...) as tar``).
    tar: tarfile.TarFile = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115
        fileobj=fileobj,
        mode="r|",
        bufsize=READ_SIZE,
        tarinfo=tarinfo_class(limits),
        encoding="utf-8",
        errors="surrogateescape",
    )
    return tar


def check_trailing(tar: tarfile.TarFile, source: str) -> None:
    """Refuse anything but NUL padding after the end-of-archive block.

    Appended data is refused because other tools might read it as more members.

    Raises:
        PackageFormatError: a non-NUL byte follows the end of the tar archive.
    """
    stream = tar.fileobj
    assert stream is not None  # a stream-mode TarFile always has its stream
    while chunk := stream.read(READ_SIZE):
        if chunk.strip(b"\0"):
            raise PackageFormatError(f"{source}: trailing data after the end of the tar archive")
