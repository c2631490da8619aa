"""A notebook file that nests without end or carries a huge number is refused, never a crash."""

import pytest

from workbench.errors import ImportFormatError


@pytest.mark.parametrize("text, says", [
    ("[" * 100_000 + "]" * 100_000, "nested more than"),
    ('{"lessons": [{"text": "When asked, answer.", "helpful": ' + "9" * 5000 + "}]}", "4,300 digits"),
    ("{not json", "not valid JSON: line 1"),
])
def test_hostile_notebook_files_are_refused_and_nothing_is_written(ws, text, says):
    with pytest.raises(ImportFormatError, match=says):
        ws.notebook.import_json(text)
    assert ws.notebook.lessons(None) == []
