"""What ``hxpm train`` writes back into the expert's manifest: the soft prompt it trained.

A soft prompt is only loaded when the manifest declares it (``soft_prompts[]``, path
``soft_prompts/<name>.safetensors``, ``tokens``). Training one adds or updates that entry so
that the package built next ships and runs it; every other field stays as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hxpm.core.manifest_checks import MAX_MANIFEST_BYTES
from hxpm.core.strictjson import read_json_keeping_comments
from hxpm.package.layout import SOFT_PROMPT_DIR


def declare_soft_prompt(manifest_path: Path, name: str, tokens: int) -> bool:
    """Declare ``soft_prompts/<name>.safetensors`` with ``tokens`` vectors; True if changed."""
    data, _comments = read_json_keeping_comments(
        manifest_path.read_bytes(), max_bytes=MAX_MANIFEST_BYTES
    )
    path = f"{SOFT_PROMPT_DIR}/{name}.safetensors"
    entry: dict[str, Any] = {"name": name, "path": path, "tokens": tokens}
    declared = data.get("soft_prompts")
    entries = [e for e in declared if isinstance(e, dict)] if isinstance(declared, list) else []
    for index, old in enumerate(entries):
        if old.get("path") == path:
            if all(old.get(k) == v for k, v in entry.items()):
                return False
            entries[index] = {**old, **entry}
            break
    else:
        entries.append(entry)
    data["soft_prompts"] = entries
    tmp = manifest_path.with_name(f".{manifest_path.name}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, manifest_path)
    finally:
        tmp.unlink(missing_ok=True)
    return True
