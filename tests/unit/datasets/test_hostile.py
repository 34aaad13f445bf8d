"""Mutated real dataset files: every reader path refuses with hxpm's errors, never a traceback.

A small deterministic fuzz (fixed seed) over the corpus-built files, plain and compressed;
tests/fuzz/ holds the project's longer-running fuzz targets.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import zstandard

from hxpm.datasets.reader import iter_records
from hxpm.errors import DatasetError, HxpmError
from hxpm.services.datasets import convert_dataset, dataset_stats
from tests.unit.datasets.realformats import write_formats

INTERESTING = [b"\x00", b"\xff", b"\n", b"{", b"}", b'"', b"\\u0000", b"[]", b"1e999", b"null"]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        choice = rng.random()
        if choice < 0.4 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif choice < 0.7:
            out[at:at] = rng.choice(INTERESTING)
        else:
            del out[at : at + rng.randint(1, 40)]
    return bytes(out)


def test_mutated_files_are_refused_cleanly(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    sources = [p.read_bytes() for p in write_formats(tmp_path / "src").values()]
    target = tmp_path / "case.jsonl"
    refused = 0
    for i in range(400):
        data = _mutate(rng, rng.choice(sources))
        kind = i % 4
        if kind == 1:
            data, name = _mutate(rng, gzip.compress(data)), "case.jsonl.gz"
        elif kind == 2:
            data, name = _mutate(rng, zstandard.ZstdCompressor().compress(data)), "case.jsonl.zst"
        else:
            name = "case.jsonl"
        target = tmp_path / name
        target.write_bytes(data)
        try:
            for _number, _record in iter_records(target):
                pass
            if kind == 3:
                dataset_stats(target)
                convert_dataset(target, tmp_path / "out.jsonl", to="text", overwrite=True)
        except DatasetError:
            refused += 1
        except HxpmError:
            pass  # a clean refusal of the request (a preference file does not convert)
        except Exception as exc:
            raise AssertionError(f"case {i} ({name}): {type(exc).__name__}: {exc}") from exc
        finally:
            target.unlink()
    assert refused > 100  # the mutations really hit the error paths
