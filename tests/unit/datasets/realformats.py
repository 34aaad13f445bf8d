"""One dataset file per format, built from the real lines of the older ecosystem.

The corpus (tests/fixtures/original-ecosystem/datasets/, PROVENANCE.tsv) holds ChatML-ish
``text`` lines (expert-elastic, expert-tools) and instruction lines with a nested ``input``
object (expert-json). The text and instruction files are those lines verbatim; the other
formats carry the same content re-shaped the way each format writes it.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "original-ecosystem" / "datasets"
ELASTIC = CORPUS / "expert-elastic" / "datasets_train.jsonl.head2.jsonl"
TOOLS = CORPUS / "expert-tools" / "datasets_validation.jsonl.head2.jsonl"
JSON_REPAIR = CORPUS / "expert-json" / "datasets_json_repair_enhanced_test.jsonl.head3.jsonl"


def corpus_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _legacy_turns(text: str) -> list[dict[str, str]]:
    """The ``<|role|>\\n…\\n<|end|>`` turns of a corpus text line (kept independent of the
    code under test, so the messages file does not depend on what it tests)."""
    turns = []
    for piece in text.split("<|end|>"):
        block = piece.strip("\n")
        if block.startswith("<|"):
            role, _, content = block[2:].partition("|>\n")
            turns.append({"role": role, "content": content.rstrip("\n")})
    return turns


def write_formats(folder: Path) -> dict[str, Path]:
    """``{format: path}`` for the five formats."""
    folder.mkdir(parents=True, exist_ok=True)
    repair = [json.loads(line) for line in corpus_lines(JSON_REPAIR)]
    texts = [json.loads(line)["text"] for line in corpus_lines(ELASTIC) + corpus_lines(TOOLS)]
    rows: dict[str, list[dict[str, object]]] = {
        "prompt_completion": [
            {
                "prompt": r["input"]["instruction"] + "\n" + r["input"]["broken_json"],
                "completion": r["output"],
            }
            for r in repair
        ],
        "messages": [{"messages": _legacy_turns(t)} for t in texts],
        "preference": [
            {
                "prompt": r["input"]["instruction"] + "\n" + r["input"]["broken_json"],
                "chosen": r["output"],
                "rejected": r["input"]["broken_json"],
            }
            for r in repair
        ],
    }
    paths = {}
    for fmt, objs in rows.items():
        paths[fmt] = folder / f"{fmt}.jsonl"
        paths[fmt].write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    paths["text"] = folder / "text.jsonl"
    paths["text"].write_text(
        "\n".join(corpus_lines(ELASTIC) + corpus_lines(TOOLS)) + "\n", encoding="utf-8"
    )
    paths["instruction"] = folder / "instruction.jsonl"
    paths["instruction"].write_bytes(JSON_REPAIR.read_bytes())
    return paths
