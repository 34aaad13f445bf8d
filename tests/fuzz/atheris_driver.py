"""One fuzz target under atheris (libFuzzer, coverage-guided); run by tests/fuzz/run.py.

    python -m tests.fuzz.atheris_driver TARGET SECONDS

hxpm is imported instrumented; libFuzzer starts from the target's seeds (written to a
temporary corpus) and stops after SECONDS. An input that raises anything outside hxpm's
error family is saved to tests/fuzz/regressions/<target>/ before libFuzzer reports it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["hxpm"]):
    from tests.fuzz.targets import run_one

from tests.fuzz.run import save_regression
from tests.fuzz.seeds import seeds


def main() -> None:
    target, seconds = sys.argv[1], int(sys.argv[2])

    def one_input(data: bytes) -> None:
        try:
            run_one(target, data)
        except Exception:
            print(f"saved: {save_regression(target, data)}", file=sys.stderr, flush=True)
            raise

    corpus = Path(tempfile.mkdtemp(prefix=f"hxpm-fuzz-{target}-"))
    for i, seed in enumerate(seeds(target)):
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            "-max_len=262144",
            "-rss_limit_mb=4096",
            str(corpus),
        ],
        one_input,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
