"""A real store with the committed demo experts (signed, from experts/*/dist) on the tiny base,
and real `hxpm serve` processes on 127.0.0.1 (one per test module: torch import is slow)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]
BASE = "hxpm/tiny-qwen3"


def hxpm_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hxpm", *args]


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HXPM_HOME with the tiny base and the seven signed demo experts installed."""
    home = tmp_path_factory.mktemp("serve") / "home"
    env = {**os.environ, "HXPM_HOME": str(home), "HXPM_OFFLINE": "1"}
    packages = sorted(str(p) for p in (ROOT / "experts").glob("*/dist/*.expert"))
    steps = [
        ("base", "add", BASE, "--path", str(ROOT / "models" / "tiny-qwen3")),
        (
            "trust",
            "add",
            str(ROOT / "demo" / "keys" / "demo-publisher.pub"),
            "--name",
            "hxpm-demo",
            "--experts",
            "expert-*",
        ),
        ("install", *packages),
    ]
    for step in steps:
        r = subprocess.run(hxpm_cmd(*step), env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    return home


@pytest.fixture(scope="module")
def session() -> Iterator[object]:
    """The tiny base loaded in this process (hxpm.runtime.session.Session), no store."""
    from hxpm.core.digest import base_model_digest
    from hxpm.runtime.session import BaseRef, Session

    base = ROOT / "models" / "tiny-qwen3"
    s = Session(BaseRef("tiny", base, base_model_digest(base)), device="cpu")
    yield s
    s.close()


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen[str]
    home: Path
    log: list[str] = field(default_factory=list)

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def get(self, path: str, key: str | None = None) -> tuple[int, str]:
        req = urllib.request.Request(self.url + path)
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name: str, key: str | None = None) -> float:
        """The value of an unlabelled metric sample from /metrics."""
        status, text = self.get("/metrics", key)
        assert status == 200
        match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
        assert match, name
        return float(match.group(1))


def start_server(
    home: Path, *args: str, env_extra: dict[str, str] | None = None, timeout: float = 60.0
) -> Server:
    env = {**os.environ, "HXPM_HOME": str(home), "HXPM_OFFLINE": "1", **(env_extra or {})}
    proc = subprocess.Popen(
        hxpm_cmd("serve", "--port", "0", "--device", "cpu", *args),
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the "listening on" line, printed before the model loads
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        raise AssertionError(f"hxpm serve did not start: {line}{proc.stderr.read()}")
    server = Server(f"http://127.0.0.1:{match.group(1)}", proc, home)
    # Keep reading stderr so that warnings can never fill the pipe and stall the server.
    threading.Thread(target=server.log.extend, args=(proc.stderr,), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = server.get("/health")
        if status == 200:
            return server
        assert status == 503, status  # loading
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError("hxpm serve never became healthy")


def stop_server(server: Server) -> int:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(10)
    return server.proc.returncode


@pytest.fixture(scope="session")
def server(demo_home: Path) -> Iterator[Server]:
    """Default settings: loopback, no API key (shared by the modules that need no other)."""
    s = start_server(demo_home)
    yield s
    stop_server(s)
