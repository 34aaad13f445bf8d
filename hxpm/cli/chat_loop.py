"""The `hxpm chat` loop: the base stays loaded, the conversation is kept, experts are routed
per message or fixed.

The whole history goes through the chat template on every turn; when it no longer fits the
context (with room for the answer), the oldest turns are dropped, with a notice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hxpm.api import Session, Settings
from hxpm.cli.output import console, escape, inert
from hxpm.errors import HxpmError
from hxpm.services.grammars import command_line_grammar
from hxpm.services.run import DecodingOverrides
from hxpm.store.store import Store

if TYPE_CHECKING:
    from hxpm.runtime.chat import Message

HELP = (
    "commands: /experts a,b (fix the set; '/experts' alone = bare base), /auto (route), "
    "/reset (forget the conversation), /exit"
)


def chat_loop(
    store: Store,
    *,
    experts: Sequence[str] | None,
    base: str | None,
    overrides: DecodingOverrides,
    device: str,
    max_loaded: int,
    quantize: str | None = None,
) -> None:
    err = console(stderr=True)
    t0 = time.perf_counter()
    session = Session.open(
        base, device=device, max_loaded=max_loaded, store=store, quantize=quantize, adapt=True
    )
    err.print(
        f"[dim]{escape(session.base)} loaded on {session.device} in "
        f"{time.perf_counter() - t0:.1f} s. {HELP}[/]"
    )
    settings = Settings(
        overrides.max_new_tokens,
        overrides.temperature,
        overrides.top_p,
        overrides.top_k,
        overrides.seed,
        grammar=command_line_grammar(overrides.grammar, overrides.json_schema),
    )
    history: list[Message] = []
    try:
        if experts is not None:
            _fix(session, list(experts))
        while (line := _read_line()) is not None:
            text = line.strip()
            if not text:
                continue
            if text in ("/exit", "/quit"):
                break
            if text == "/reset":
                history.clear()
                err.print("[dim]conversation cleared[/]")
            elif text.startswith("/"):
                _command(session, text)
            else:
                history = _answer(session, history, text, settings)
    finally:
        session.release()


def _read_line() -> str | None:
    try:
        return input("you> " if sys.stdin.isatty() else "")
    except EOFError:
        return None


def _fix(session: Session, names: list[str]) -> None:
    err = console(stderr=True)
    try:
        session.attach_experts(
            names, why="named on the command line: " + (", ".join(names) or "none")
        )
        err.print(f"[dim]experts fixed to: {escape(', '.join(names) or 'none (bare base)')}[/]")
    except HxpmError as e:
        _error(e)


def _command(session: Session, text: str) -> None:
    if text == "/auto":
        session.attach_auto()
        console(stderr=True).print("[dim]routing each message[/]")
    elif text == "/experts" or text.startswith("/experts "):
        _fix(session, [n.strip() for n in text[len("/experts") :].split(",") if n.strip()])
    else:
        console(stderr=True).print(f"[dim]{HELP}[/]")


def _answer(
    session: Session, history: list[Message], prompt: str, settings: Settings
) -> list[Message]:
    """Answer ``prompt`` after ``history``; the new history (unchanged on error)."""
    from hxpm.runtime.chat import Message

    err = console(stderr=True)
    try:
        conversation = [*history, Message("user", prompt)]
        selection = session.choose(None, conversation)
        conversation, dropped = session.fit(conversation, selection, settings)
        if dropped:
            err.print(
                f"[dim](the conversation outgrew the context: dropped the oldest "
                f"{dropped} message{'s' if dropped > 1 else ''})[/]"
            )
        used = ", ".join(e.name for e in selection.experts) or "bare base"
        err.print(f"[dim]({escape(used)}: {escape(selection.why)})[/]")
        stream = session.stream(
            conversation,
            selection=selection,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
            seed=settings.seed,
        )
        started = time.perf_counter()
        for piece in stream:
            _write(piece)
        sys.stdout.write("\n")
        done = stream.completion
        assert done is not None
        elapsed = time.perf_counter() - started
        err.print(
            f"[dim]{done.completion_tokens} tokens, "
            f"{done.completion_tokens / elapsed if elapsed else 0:.1f} tok/s[/]"
        )
        return [*conversation, Message("assistant", done.text)]
    except HxpmError as e:  # one bad message must not end the conversation
        _error(e)
        return history


def _error(e: HxpmError) -> None:
    err = console(stderr=True)
    err.print(f"[bold red]error:[/] {escape(e.message)}")
    if e.hint:
        err.print(f"[bold cyan]hint:[/] {escape(e.hint)}")


def _write(text: str) -> None:
    sys.stdout.write(inert(text))  # generated by the package's adapter: keep it inert
    sys.stdout.flush()
