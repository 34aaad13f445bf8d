"""`hxpm serve`: the OpenAI-compatible server. Its stack (FastAPI, uvicorn, torch) is imported
only inside the command."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hxpm.cli.options import BaseOpt
from hxpm.errors import RuntimeMissingError
from hxpm.store.store import Store


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; anything but loopback needs --api-key.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")
    ] = 8000,
    base: BaseOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help="Require 'Authorization: Bearer KEY' (default: $HXPM_API_KEY).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, max=256, help="Requests decoded together.")
    ] = 16,
    max_queue: Annotated[
        int, typer.Option("--max-queue", min=1, max=100_000, help="Waiting requests before 429.")
    ] = 64,
    max_tokens: Annotated[
        int,
        typer.Option(
            "--max-tokens", min=1, max=1_000_000, help="Largest max_tokens a request may ask."
        ),
    ] = 1024,
    max_body: Annotated[
        int,
        typer.Option("--max-body", min=1024, max=100_000_000, help="Largest request body, bytes."),
    ] = 1_000_000,
    deadline: Annotated[
        float,
        typer.Option(
            "--deadline", min=0.1, max=86_400.0, help="Seconds a request may take, queue included."
        ),
    ] = 300.0,
    max_loaded: Annotated[
        int, typer.Option("--max-loaded", min=1, help="Adapters kept attached (LRU).")
    ] = 8,
    quantize: Annotated[
        str | None,
        typer.Option(
            "--quantize",
            metavar="int8|int4|bf16|fp16|none",
            help="Load the base so, whatever the experts' manifests ask (docs/runtime.md).",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="torch's CPU threads (default: the usable CPUs but one, left to the server).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the base and installed experts over an OpenAI-compatible HTTP API."""
    try:
        from hxpm.serve.app import ServeConfig
        from hxpm.serve.scheduler import Limits
        from hxpm.serve.server import serve as run_server
    except ImportError as e:
        raise RuntimeMissingError(
            f"`hxpm serve` needs the serve extra ({e.name} is not installed)",
            hint="pip install 'hxpm[serve,runtime]'",
        ) from None
    key = api_key or os.environ.get("HXPM_API_KEY") or None
    config = ServeConfig(
        device=device,
        api_key=key,
        max_body=max_body,
        max_tokens=max_tokens,
        deadline_s=deadline,
        max_loaded=max_loaded,
        limits=Limits(max_queue=max_queue, max_batch=max_batch),
        quantize=quantize,
        threads=threads,
    )
    run_server(
        Store.from_env(), host=host, port=port, base=base, config=config, on_listening=_announce
    )


def _announce(host: str, port: int, base: str) -> None:
    from hxpm.cli.output import console, escape

    shown = f"[{host}]" if ":" in host else host
    console(stderr=True).print(
        f"hxpm serve: {escape(base)} loading; listening on http://{escape(shown)}:{port}/v1 "
        "(GET /health answers 200 once ready)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
