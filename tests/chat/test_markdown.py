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


def test_each_code_block_has_a_copy_link_to_the_whole_block():
    import re

    from workbench.chat.markdown import code_blocks, code_for, full_code
    code = "\n".join(f"print({i})" for i in range(80))  # past MAX_CODE_LINES: drawn in pieces
    text = f"Two blocks:\n\n```python\n{code}\n```\n\nand\n\n~~~\nx = 1\n~~~\n"
    out = render_markdown(text)
    keys = re.findall(r"wb:copy-code/([0-9a-f]+)", out)
    assert len(keys) == 2 and out.count("Copy code") == 2  # one link a block, not one a piece
    first = code_for(keys[0])
    assert code.startswith(first.strip()) and len(first) < len(code)  # the first piece only...
    assert full_code(first, [text]).strip() == code  # ...finds the whole block
    assert code_for(keys[1]).strip() == "x = 1"
    assert code_blocks(text) == [code + "\n", "x = 1\n"]
    assert "Copy code" not in render_markdown("```\n\n```")  # nothing to copy: no link


def test_dark_code_style_changes_the_colours_and_back():
    from workbench.chat.markdown import set_code_style
    code = "```python\ndef f():\n    return 1\n```"
    light = render_markdown(code)
    try:
        set_code_style("github-dark", "#9AA5B1")
        dark = render_markdown(code)
        assert dark != light and "#9AA5B1" in dark and "#f0f0f0" not in dark
    finally:
        set_code_style("friendly", "#5F6B7A")
    assert render_markdown(code) == light
