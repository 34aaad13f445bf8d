"""The `hxpm chat` loop: the base stays loaded; experts are routed per message or fixed."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from hxpm.cli.output import console, escape
from hxpm.errors import HxpmError
from hxpm.services.expertset import registered_base
from hxpm.services.run import (
    DecodingOverrides,
    Selection,
    open_session,
    run_prompt,
    select_experts,
)
from hxpm.store.store import Store

HELP = "commands: /experts a,b (fix the set; '/experts' alone = bare base), /auto (route), /exit"


def chat_loop(store: Store, *, experts: Sequence[str] | None, base: str | None,
              overrides: DecodingOverrides, device: str, max_loaded: int) -> None:
    err = console(stderr=True)
    base_model = registered_base(store, base)
    t0 = time.perf_counter()
    session = open_session(base_model, device=device, max_loaded=max_loaded)
    err.print(f"[dim]{escape(base_model.name)} loaded on {session.device} in "
              f"{time.perf_counter() - t0:.1f} s. {HELP}[/]")
    fixed: list[str] | None = list(experts) if experts is not None else None
    try:
        while (line := _read_line()) is not None:
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if text in ("/exit", "/quit"):
                    break
                fixed = _command(text, fixed)
                continue
            _answer(store, session, text, fixed, base_model.name, overrides)
    finally:
        session.close()


def _read_line() -> str | None:
    try:
        return input("you> " if sys.stdin.isatty() else "")
    except EOFError:
        return None


def _command(text: str, fixed: list[str] | None) -> list[str] | None:
    err = console(stderr=True)
    if text == "/auto":
        err.print("[dim]routing each message[/]")
        return None
    if text == "/experts" or text.startswith("/experts "):
        names = [n.strip() for n in text[len("/experts"):].split(",") if n.strip()]
        err.print(f"[dim]experts fixed to: {escape(', '.join(names) or 'none (bare base)')}[/]")
        return names
    err.print(f"[dim]{HELP}[/]")
    return fixed


def _answer(store: Store, session: object, prompt: str, fixed: list[str] | None, base: str,
            overrides: DecodingOverrides) -> None:
    err = console(stderr=True)
    try:
        selection: Selection = select_experts(store, prompt, experts=fixed, base=base)
        used = ", ".join(e.name for e in selection.experts) or "bare base"
        err.print(f"[dim]({escape(used)}: {escape(selection.why)})[/]")
        record = run_prompt(session, selection, prompt, overrides,  # type: ignore[arg-type]
                            on_text=_write)
        sys.stdout.write("\n")
        err.print(f"[dim]{record.result.new_tokens} tokens, "
                  f"{record.result.tokens_per_s:.1f} tok/s[/]")
    except HxpmError as e:  # one bad message must not end the conversation
        err.print(f"[bold red]error:[/] {escape(e.message)}")
        if e.hint:
            err.print(f"[bold cyan]hint:[/] {escape(e.hint)}")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
