"""Markdown -> HTML for model output: highlighted code, and raw HTML shown as text, never run."""

import html

import markdown

_EXTENSIONS = ["fenced_code", "codehilite", "tables", "sane_lists", "nl2br"]
# Inline styles, not classes: Qt's rich-text engine supports little CSS.
_CONFIG = {"codehilite": {"noclasses": True, "guess_lang": False, "pygments_style": "friendly"}}


def _converter() -> markdown.Markdown:
    md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_CONFIG)
    # Without these, <script>, <img src=...> or <style> in model output would be
    # passed through as markup; deregistered, they are escaped and shown as text.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


_MD = _converter()


def render_markdown(text: str) -> str:
    """HTML for a message. Safe for untrusted text: any tag in it comes out escaped."""
    _MD.reset()
    return _MD.convert(text)


def render_plain(text: str) -> str:
    """HTML showing text exactly as written (for raw prompts)."""
    return f"<pre>{html.escape(text)}</pre>"
