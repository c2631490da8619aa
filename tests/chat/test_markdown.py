"""Model output rendering: Markdown with highlighted code; raw HTML shown, never obeyed."""

from workbench.chat.markdown import render_markdown


def test_markdown_and_code_highlighting():
    out = render_markdown("**bold**\n\n1. one\n2. two\n\n```python\nprint('hi')\n```")
    assert "<strong>bold</strong>" in out and "<ol>" in out
    assert "<span style=" in out and "print" in out  # pygments inline colours


def test_raw_html_is_escaped():
    evil = ('<script>alert(1)</script> <img src="http://example.com/x.png"> '
            '<style>body{display:none}</style>\n\n<div onclick="x()">block</div>')
    out = render_markdown(evil)
    for tag in ("<script", "<img", "<style", "<div onclick"):
        assert tag not in out
    assert "&lt;script&gt;" in out and "&lt;div onclick" in out
