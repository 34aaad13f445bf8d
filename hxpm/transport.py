"""The offline switch and plain HTTP(S) downloads, for the callers that import them from here.

The code lives in :mod:`hxpm.http` (one HTTP client for every download: retries, deadline,
proxies, resumable downloads, no https-to-http redirect); this module keeps the names the
services have always imported.
"""

from __future__ import annotations

from hxpm.http import check_http_url, download, is_offline, require_online

__all__ = ["check_http_url", "download", "is_offline", "require_online"]
