"""hxpm's embedded runtime: load a base model, stack experts on it, generate.

Importing this package is cheap: torch, transformers and peft are imported by the modules
that need them (``hxpm.runtime.session``, ``.loader``, ``.adapters``, ``.merge``,
``.generate``, ``.device``), never here, so that hxpm commands that only need the plain
value types (``hxpm.runtime.refs``) stay light.

Entry point::

    from hxpm.runtime.session import AdapterRef, BaseRef, GenerationConfig, Session

    with Session(BaseRef("tiny", path, digest)) as s:
        s.use([AdapterRef("expert-sql", "0.3.0", sql_dir, load_order=6)])
        print(s.generate("count users", GenerationConfig(max_new_tokens=64)).text)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
