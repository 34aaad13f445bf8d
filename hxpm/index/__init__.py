"""Git indexes: the index data model, the local index cache, and Git access
(docs/architecture.md §5).

Git access lives in :mod:`hxpm.index.git` (with its private helpers ``_gitwire``, the wire
side, and ``_gitlocal``, local repositories: the only modules that import dulwich); URL and
ref validation, with no I/O, in :mod:`hxpm.index.urls`. Index data: ``config`` (config.json),
``model`` (version lines); the local queryable copy: ``cache`` with ``search_query``.
"""
