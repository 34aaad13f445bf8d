"""The manifest and README that ``hxpm import`` writes for an imported PEFT adapter.

The manifest is schema 2.0, as ``hxpm new`` writes it, minus what an import cannot know:
no training recipe (the adapter was trained elsewhere), no license or author (the README
asks for them), no prompt template (the base model's own chat template applies). The
adapter entry mirrors ``adapter_config.json``: type, r, alpha, target modules, and the
per-module ``rank_pattern``/``alpha_pattern`` and ``use_rslora`` when the config uses them.
An ``imported`` block records the origin. The manifest is validated before it is returned.
"""

from __future__ import annotations

import json
from typing import Any

from hxpm.core import adapter_config as ac
from hxpm.core.manifest import Manifest
from hxpm.services.import_base import BaseDecision

_KIND_LABEL = {"lora": "LoRA", "dora": "DoRA", "ia3": "IA3"}


def adapter_entry(config: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``adapters[0]`` for a runnable adapter config."""
    kind = ac.adapter_kind(config)
    entry: dict[str, Any] = {"type": kind}
    if kind != "ia3":
        entry["r"] = config["r"]
        entry["alpha"] = config.get("lora_alpha", 8)
    entry["target_modules"] = list(ac.target_module_names(config))
    for key in ("rank_pattern", "alpha_pattern"):
        if config.get(key):
            entry[key] = dict(sorted(config[key].items()))
    if config.get("use_rslora") is True:
        entry["use_rslora"] = True
    if kind == "ia3" and config.get("feedforward_modules"):
        entry["feedforward_modules"] = config["feedforward_modules"]
    return entry


def imported_manifest(
    name: str, version: str, config: dict[str, Any], decision: BaseDecision, source_label: str
) -> bytes:
    """The manifest bytes, checked by :class:`Manifest` (raises ManifestError if invalid)."""
    kind = ac.adapter_kind(config)
    variant: dict[str, Any] = {
        "name": decision.choice.name,
        "sha256": decision.choice.sha256,
        "adapters": [adapter_entry(config)],
    }
    if not decision.choice.registered:
        variant = {"_comment": decision.choice.note, **variant}
    short = name.removeprefix("expert-")
    data: dict[str, Any] = {
        "name": name,
        "version": version,
        "schema_version": "2.0",
        "description": f"{_KIND_LABEL[kind]} adapter imported from PEFT ({source_label})",
        "base_models": [variant],
        "capabilities": [],
        "routing": {
            "_comment": "TODO: words and phrases that should route a prompt to this expert",
            "keywords": [short],
            "exclude_keywords": [],
            "priority": 0.5,
        },
        "constraints": {"requires": [], "incompatible_with": [], "load_order": 5, "max_chain": 10},
        "imported": {
            "_comment": "Made by hxpm import from a PEFT adapter folder: no training recipe.",
            "from": "peft",
            "source": source_label,
            "peft_version": _optional_str(config.get("peft_version")),
            "base_model_name_or_path": _optional_str(decision.from_config),
        },
    }
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    raw = text.encode("utf-8")
    Manifest.from_bytes(raw, source="imported manifest.json")
    return raw


def imported_readme(
    name: str, version: str, config: dict[str, Any], decision: BaseDecision, source_label: str
) -> bytes:
    """A README stub saying what the adapter is, where it came from, and what to fill in."""
    kind = ac.adapter_kind(config)
    targets = ", ".join(f"`{t}`" for t in ac.target_module_names(config))
    shape = (
        ""
        if kind == "ia3"
        else (
            f", rank {config['r']} (largest {ac.max_rank(config)}), "
            f"alpha {config.get('lora_alpha', 8)}"
        )
    )
    base_line = (
        f"`{decision.choice.name}` (digest registered in the store that imported it)"
        if decision.choice.registered
        else f"`{decision.choice.name}` (no digest yet: see the `_comment` in manifest.json)"
    )
    lines = [
        f"# {name}",
        "",
        (
            f"A {_KIND_LABEL[kind]} adapter imported with `hxpm import` from the PEFT adapter "
            f"folder `{source_label}`; version {version}."
        ),
        "",
        (
            "TODO: what this adapter does, for whom, and where it came from (a link to the "
            "original, its author and its license). Fill in `license`, `author` and "
            "`description` in manifest.json too."
        ),
        "",
        "## Adapter",
        "",
        f"- kind: {_KIND_LABEL[kind]}{shape}",
        f"- target modules: {targets}",
        f"- base model: {base_line}",
        f"- made with PEFT {_optional_str(config.get('peft_version')) or '(version unknown)'}",
        "",
        "There is no training recipe: the adapter was trained outside hxpm. `adapter_config.json`",
        "and `adapter_model.safetensors` are the original files, byte for byte.",
        "",
        "## Next steps",
        "",
        "```sh",
        "hxpm package . -o dist",
        "hxpm sign dist/*.expert --key-name YOUR_KEY",
        "hxpm publish . --index INDEX_DIR --url GIT_URL",
        "```",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _optional_str(value: Any) -> str | None:
    # A value from someone else's config: keep it only when it is a short single-line string.
    if isinstance(value, str) and len(value) <= 200 and value.isprintable():
        return value
    return None
