"""Which grammar constrains an answer, and the grammar checks of validate/package
(docs/grammar.md).

An expert's grammar applies when its manifest asks for it: ``training.decoding.use_grammar``
true (the older tool's key, set in its real manifests) or a ``grammar_file`` naming the
file; the file is ``grammar_file`` if given, else ``grammar.gbnf``, beside the manifest. In
a stack, the grammar of the top expert (last in load order: the one the router chose)
applies. ``--grammar`` / ``--json-schema`` replace it for one run.

The runtime's grammar module (llguidance) is imported inside the functions: it does not
import torch, but the light commands must not pay even for that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hxpm.core.strictjson import JsonError, read_json
from hxpm.errors import GrammarError, NotFoundError, UsageError

if TYPE_CHECKING:
    from hxpm.runtime.grammar import GrammarSpec

DEFAULT_GRAMMAR_FILE = "grammar.gbnf"


def grammar_for(selection: Any, overrides: Any) -> GrammarSpec | None:
    """The grammar for a run: the command line's, else the top expert's, else None."""
    chosen = command_line_grammar(overrides.grammar, overrides.json_schema)
    if chosen is not None:
        return chosen
    if not selection.experts:
        return None
    top = selection.experts[-1]
    return expert_grammar(Path(top.path), top.manifest, top.name)


def command_line_grammar(grammar: Path | None, json_schema: Path | None) -> GrammarSpec | None:
    """``--grammar FILE`` (GBNF) or ``--json-schema FILE``, read and parsed; None if neither."""
    from hxpm.runtime.grammar import GrammarSpec

    if grammar is not None and json_schema is not None:
        raise UsageError("--grammar and --json-schema cannot be used together")
    if grammar is not None:
        return GrammarSpec.gbnf(_read(Path(grammar)), str(grammar))
    if json_schema is not None:
        path = Path(json_schema)
        return GrammarSpec.json_schema(_schema_text(_read(path), str(path)), str(path))
    return None


def expert_grammar(folder: Path, manifest: Mapping[str, Any], label: str) -> GrammarSpec | None:
    """The grammar ``manifest`` asks for, read from ``folder``; None when it asks for none.

    Raises:
        NotFoundError: the manifest asks for a grammar the folder does not hold.
        GrammarError: ``grammar_file`` is not a plain file name, or the file is unreadable.
    """
    from hxpm.runtime.grammar import GrammarSpec

    name = grammar_file_of(manifest)
    if name is None:
        return None
    path = folder / name
    if not path.is_file():
        raise NotFoundError(
            f"{label}: the manifest asks for grammar-constrained decoding but {name} "
            f"is not in {folder}",
            hint=f"Add {name} (GBNF) beside manifest.json, or set "
            "training.decoding.use_grammar to false.",
        )
    return GrammarSpec.gbnf(_read(path), f"{label}/{name}")


def grammar_file_of(manifest: Mapping[str, Any]) -> str | None:
    """The grammar file ``manifest`` asks for (a bare file name), or None."""
    training = manifest.get("training")
    decoding = training.get("decoding") if isinstance(training, Mapping) else None
    if not isinstance(decoding, Mapping) or decoding.get("use_grammar") is False:
        return None
    named = decoding.get("grammar_file")
    if decoding.get("use_grammar") is not True and not isinstance(named, str):
        return None
    name = named if isinstance(named, str) and named else DEFAULT_GRAMMAR_FILE
    if Path(name).name != name or name in (".", ".."):
        raise GrammarError(
            f"training.decoding.grammar_file must be a file name in the package, got {name!r}",
            file="manifest.json",
            expected="a bare file name such as grammar.gbnf",
        )
    return name


def check_expert_grammar(expert_dir: Path, manifest: Mapping[str, Any]) -> str | None:
    """For validate/package: compile the grammar the expert ships or asks for.

    Returns the grammar file checked, or None (the expert has no grammar). llguidance is a
    core dependency (light, no torch), so the check never silently skips.

    Raises:
        GrammarError: the grammar does not compile (message and line from the library).
        NotFoundError: the manifest asks for a grammar file that is missing.
    """
    from hxpm.runtime.grammar import GrammarSpec, check_grammar

    name = grammar_file_of(manifest)
    if name is None and not (expert_dir / DEFAULT_GRAMMAR_FILE).is_file():
        return None
    spec = (
        expert_grammar(expert_dir, manifest, str(expert_dir))
        if name is not None
        else GrammarSpec.gbnf(
            _read(expert_dir / DEFAULT_GRAMMAR_FILE), str(expert_dir / DEFAULT_GRAMMAR_FILE)
        )
    )
    if spec is None:
        return None
    check_grammar(spec)
    return spec.source


def _read(path: Path) -> str:
    from hxpm.runtime.grammar import MAX_GRAMMAR_BYTES

    try:
        with path.expanduser().open("rb") as f:
            data = f.read(MAX_GRAMMAR_BYTES + 1)
    except FileNotFoundError:
        raise NotFoundError(f"no grammar file at {path}") from None
    except OSError as e:
        raise GrammarError(f"{path}: cannot read: {e.strerror}", file=str(path)) from None
    if len(data) > MAX_GRAMMAR_BYTES:
        raise GrammarError(
            f"{path}: larger than {MAX_GRAMMAR_BYTES // 1024} KiB",
            file=str(path),
            expected=f"a grammar of at most {MAX_GRAMMAR_BYTES // 1024} KiB",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise GrammarError(
            f"{path}, line {line}: not UTF-8 text", file=str(path), line=line, expected="UTF-8"
        ) from None


MAX_SCHEMA_BYTES = 256 * 1024  # the same cap as a grammar file


def _schema_text(text: str, source: str) -> str:
    try:
        schema = read_json(text, max_bytes=MAX_SCHEMA_BYTES)
    except JsonError as e:
        raise GrammarError(
            f"{source}{f', line {e.line}' if e.line else ''}: not a JSON document hxpm "
            f"accepts: {e}",
            file=source,
            line=e.line,
            expected="a JSON Schema (a JSON object)",
        ) from None
    if not isinstance(schema, dict):
        raise GrammarError(
            f"{source}: a JSON Schema must be a JSON object, got {type(schema).__name__}",
            file=source,
            expected="a JSON Schema (a JSON object)",
        )
    return json.dumps(schema)  # keys keep the schema's order: answers follow it, as OpenAI's do
