"""`hxpm --version` and `hxpm list --json` (50 installed experts) against `pip list`.

Run: .venv/bin/python tests/benchmarks/bench_startup.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import BIN, env_with_home, median_seconds, print_table, run_ok


def populate(home: Path, src: Path, count: int = 50) -> None:
    import os

    os.environ["HXPM_HOME"] = str(home)
    from hxpm.services.install import InstallOptions, install_directory
    from hxpm.store.store import Store
    from tests.factories import make_expert_dir

    store = Store.from_env()
    for i in range(count):
        d = make_expert_dir(src, f"expert-bench-{i:02d}", "1.0.0", seed=i)
        install_directory(store, d, options=InstallOptions(unsafe_allow_unsigned=True))
    store.close()


def main(repeat: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        populate(home, Path(tmp) / "src")
        env = env_with_home(home)
        hxpm = BIN / "hxpm"
        pip = [str(BIN / "python"), "-m", "pip", "list", "--disable-pip-version-check"]
        t_version = median_seconds(lambda: run_ok([hxpm, "--version"], env), repeat)
        t_list = median_seconds(lambda: run_ok([hxpm, "list", "--json"], env), repeat)
        t_pip = median_seconds(lambda: run_ok(pip, env), repeat)
    print_table(
        f"CLI start-up (whole process, median of {repeat})",
        [
            ("hxpm --version", t_version, "pip list", t_pip, 0.5),
            ("hxpm list --json (50 installed)", t_list, "pip list", t_pip, 0.5),
        ],
    )


if __name__ == "__main__":
    main()
