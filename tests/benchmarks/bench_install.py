"""Install a 200 MB signed expert from a local file against `cp` + `sha256sum` of it.

Run: .venv/bin/python tests/benchmarks/bench_install.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import BIN, env_with_home, median_seconds, print_table, run_ok

SIZE = 200 * 1000 * 1000


def main(repeat: int = 5) -> None:
    from tests.factories import make_expert_dir

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        env = env_with_home(home)
        hxpm = str(BIN / "hxpm")
        src = make_expert_dir(root / "src", "expert-big", "1.0.0", weight_bytes=SIZE)
        r = subprocess.run(
            [hxpm, "package", src, "-o", root / "dist", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        pkg = json.loads(r.stdout)["packages"][0]["path"]
        run_ok([hxpm, "key", "generate", "--name", "bench"], env)
        run_ok([hxpm, "sign", pkg, "--key-name", "bench"], env)
        pub = json.loads(
            subprocess.run(
                [hxpm, "key", "show", "--name", "bench", "--json"],
                env=env,
                capture_output=True,
                text=True,
            ).stdout
        )
        run_ok([hxpm, "trust", "add", pub["public_key"], "--name", "bench"], env)

        def uninstall() -> None:
            subprocess.run([hxpm, "uninstall", "expert-big"], env=env, capture_output=True)

        t_install = median_seconds(
            lambda: run_ok([hxpm, "install", pkg], env), repeat, setup=uninstall
        )
        copy = root / "copy.expert"

        def cp_and_hash() -> None:
            run_ok(["cp", pkg, copy])
            run_ok(["sha256sum", copy])

        t_ref = median_seconds(cp_and_hash, repeat, setup=lambda: copy.unlink(missing_ok=True))
        size_mb = Path(pkg).stat().st_size / 1e6
        shutil.rmtree(home, ignore_errors=True)
    print_table(
        f"Install from a local file ({size_mb:.0f} MB package, median of {repeat})",
        [
            ("hxpm install PKG (signed)", t_install, "cp + sha256sum", t_ref, 1.5),
        ],
    )


if __name__ == "__main__":
    main()
