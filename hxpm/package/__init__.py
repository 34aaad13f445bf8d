"""The ``.expert`` package: member rules, building, safe reading and signing
(docs/architecture.md §3, §4).

- :mod:`hxpm.package.layout`: which members a package may hold and the read limits.
- :mod:`hxpm.package.safetensors_check`: header-only safetensors validation (no torch).
- :mod:`hxpm.package.compression`: the only module that imports ``zstandard``.
- :mod:`hxpm.package.build`: reproducible zstd tar packages from an expert directory.
- :mod:`hxpm.package.tarsafe`: tar header hardening used by the reader.
- :mod:`hxpm.package.reader`: hostile-input-safe streaming reader.
- :mod:`hxpm.package.extract`: writing members into a staging folder, hashing as it goes.
- :mod:`hxpm.package.signing`: Ed25519 keys and detached ``.sig`` files (the only PyNaCl user).
- :mod:`hxpm.package.keyfiles`: secret and public key files on disk.
"""
