"""Showing user text as text. Document text may hold <script>, <img onerror>, [x](javascript:…):
everything here turns it into inert characters. No streamlit import: tests call these directly."""

from __future__ import annotations

import html
import re
import string

_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")


def md_escape(text: str) -> str:
    """Every ASCII punctuation character backslash-escaped: CommonMark then renders each one
    literally, so no link, image, HTML tag, emphasis, LaTeX or directive can form."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def shorten(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def hover_escape(text: str, n: int = 160, width: int = 60) -> str:
    """Plotly hover labels understand a little HTML (<b>, <a href>, <br>): escape the text and
    wrap it with <br> ourselves."""
    words, lines, line = shorten(text, n).split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "<br>".join(html.escape(x, quote=False) for x in lines)  # plotly shows &quot; raw; < > & still escaped
