"""The typed parts of a manifest (docs/architecture.md §2) and the limits of their fields.

Plain values with no parsing: ``hxpm.core.manifest_parse`` builds them from a document, and
``hxpm.core.manifest.Manifest`` holds them. Code that only needs a field's default (the index
model, the routing summary) imports this module and nothing of the parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from hxpm.core.names import base_slug

SCHEMA_VERSIONS = ("1.0", "2.0")
ADAPTER_TYPES = ("lora", "dora", "ia3")
# Types the original schema lists that no runtime here can load: name them precisely.
UNSUPPORTED_ADAPTER_TYPES = ("lokr", "adalora", "lora-fa", "loha", "vera")
DEFAULT_PRIORITY = 0.5
DEFAULT_LOAD_ORDER = 0
DEFAULT_MAX_CHAIN = 10
MAX_CHAIN_LIMIT = 64
MAX_RANK = 256


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    type: str  # "lora" | "dora" | "ia3", lower-cased
    r: int | None
    alpha: float | None
    target_modules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BaseVariant:
    name: str
    sha256: str  # "" when the manifest has none (legacy manifests ship "")
    prompt_template: str | None
    adapters: tuple[AdapterSpec, ...]

    @property
    def slug(self) -> str:
        return base_slug(self.name)


@dataclass(frozen=True, slots=True)
class Routing:
    keywords: tuple[str, ...]
    exclude_keywords: tuple[str, ...]
    priority: float = DEFAULT_PRIORITY
