"""Run the app under uvicorn on a socket we bind ourselves (so a busy port is our error).

uvicorn handles SIGINT/SIGTERM: it stops accepting, lets in-flight requests (streams
included) finish for up to ``grace_s``, then runs the app's shutdown, which drains the
scheduler.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

from hxpm.errors import NetworkError, UsageError
from hxpm.serve.app import ServeConfig, create_app
from hxpm.services.catalog import Catalog
from hxpm.store.store import Store

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None) -> None:
    """Binding beyond this machine needs a key: anyone who can reach it could run the model."""
    if not is_loopback(host) and not api_key:
        raise UsageError(
            f"--host {host} would expose the server beyond this machine without an API key",
            hint="Pass --api-key KEY (or set HXPM_API_KEY), or keep the default --host 127.0.0.1.",
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise NetworkError(
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            hint="Pick another --port, or stop what is using it.",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    store: Store,
    *,
    host: str,
    port: int,
    base: str | None,
    config: ServeConfig,
    on_listening: Callable[[str, int, str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. ``on_listening(host, port, base)`` runs once bound."""
    import uvicorn

    check_exposure(host, config.api_key)
    catalog = Catalog(store, base)
    app = create_app(catalog, config)
    sock = bind(host, port)
    bound_port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(config.deadline_s) + 5,
        )
    )
    if on_listening is not None:
        on_listening(host, bound_port, catalog.base.name)
    # uvicorn re-raises the stop signal once it has shut down gracefully, to run the handler
    # that was there before it; make that one a no-op so a graceful stop exits 0.
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _stopped) for sig in STOP_SIGNALS} if main else {}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """The server has already stopped gracefully when this runs: nothing left to do."""
