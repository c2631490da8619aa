"""The pinned lessons in an exported system prompt: how an export marks them, how import finds them.

Composition writes the pinned lessons last in the system prompt, as a `## Lessons` heading and
one `- lesson` line each (prompt/compose.lessons_block). That block is the mark: an export
keeps it exactly as the model sees it, and import takes a system prompt's trailing block of
that shape back out, so it comes back as lessons instead of as prompt text.
"""

import re

from workbench.prompt.compose import LESSONS_HEADING, RETRIEVED_HEADING

HEADING = f"## {LESSONS_HEADING}"
_BLOCK = re.compile(rf"(?:^|\n\n){re.escape(HEADING)}\n((?:- [^\n]*(?:\n|$))+)\Z")


def split_lessons(system: str) -> tuple[str, list[str]]:
    """(the system prompt without its trailing lessons block, the lessons' texts)."""
    m = _BLOCK.search(system)
    if not m:
        return system, []
    lessons = [line[2:].strip() for line in m.group(1).splitlines() if line.strip()]
    return system[:m.start()], [lesson for lesson in lessons if lesson]


def split_retrieved(user_text: str) -> tuple[str, bool]:
    """A user message without the notebook's retrieved notes the workbench appended to it."""
    head, sep, _ = user_text.rpartition(f"\n\n{RETRIEVED_HEADING}\n")
    return (head, True) if sep else (user_text, False)
