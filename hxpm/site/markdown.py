"""README Markdown to inert HTML: markdown-it-py with raw HTML off, and only safe links.

The one module that imports markdown-it-py. What comes out holds no element a README
author chose beyond Markdown's own (raw HTML is shown as text), no ``javascript:``,
``data:`` or other scheme but http(s) and mailto in a link, no image that a browser would
fetch (an image becomes a link to it, so opening a page never contacts a third party), and
headings start at ``h3`` so the README sits under the page's own headings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

MAX_README_CHARS = 200_000
TRUNCATED_NOTE = "The README is longer than {limit:,} characters; the rest is not shown here."
# Schemes a link may keep; anything else (javascript:, data:, vbscript:, file:, and
# relative links into a repository this site does not hold) is dropped to plain text.
_SAFE_LINK = re.compile(r"^(https?://|mailto:|#)[^\s]*$", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
HEADING_SHIFT = 2


def safe_href(url: str) -> str | None:
    """``url`` if a page may link to it (http, https, mailto, a fragment), else None."""
    url = url.strip()
    if not _SAFE_LINK.match(url) or _CONTROL.search(url):
        return None
    return url


def render_readme(text: str) -> tuple[str, bool]:
    """The README as sanitised HTML, and whether it was cut at :data:`MAX_README_CHARS`."""
    from markdown_it import MarkdownIt

    truncated = len(text) > MAX_README_CHARS
    if truncated:
        cut = text.rfind("\n", 0, MAX_README_CHARS)
        text = text[: cut if cut > MAX_README_CHARS // 2 else MAX_README_CHARS]
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Our own check replaces markdown-it's (which allows some data: images): a link whose
    # target fails it stays as its literal text.
    md.validateLink = _valid_link  # type: ignore[method-assign]
    # HTML comments (build markers and the like) would show as literal text: drop them.
    tokens = md.parse(_COMMENT.sub("", _CONTROL.sub("", text)))
    _make_inert(tokens)
    return md.renderer.render(tokens, md.options, {}), truncated


def _valid_link(url: str) -> bool:
    return safe_href(url) is not None


def _make_inert(tokens: Sequence[Any]) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + HEADING_SHIFT, 6)
            token.tag = f"h{level}"
        elif token.type == "link_open":
            token.attrSet("rel", "nofollow noopener noreferrer")
        elif token.type == "image":
            _image_to_link(token)
        if token.children:
            _make_inert(token.children)


def _image_to_link(token: Any) -> None:
    """An image is shown as a link with its alt text: no request on page load."""
    src = safe_href(str(token.attrGet("src") or ""))
    alt = "".join(child.content for child in token.children or ()) or "image"
    token.type = "html_inline"
    label = html.escape(f"[image: {alt}]")
    if src is None:
        token.content = f'<span class="img">{label}</span>'
    else:
        href = html.escape(src, quote=True)
        token.content = (
            f'<a class="img" href="{href}" rel="nofollow noopener noreferrer">{label}</a>'
        )
    token.children = []
