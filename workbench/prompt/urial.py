"""URIAL: make a base model answer like an assistant with a preamble and Query/Answer examples.

After Lin et al. (ICLR 2024): a short preamble, a few stylistic example
exchanges, each `# Query:` then `# Answer:` with the text in triple backticks,
earlier turns as more pairs, and the prompt ends with `# Answer:` and an
opening fence. Generation stops at the closing fence or the next `# Query`.
The preamble and examples shipped in resources/urial.json are our own text.
"""

import json
from dataclasses import dataclass

from workbench.prompt.document import Example
from workbench.resources import resource_path

RESOURCE = resource_path("urial.json")
FENCE = "```"
STOP = [FENCE, "# Query"]


@dataclass
class UrialTemplate:
    preamble: str
    examples: list[Example]

    @classmethod
    def default(cls) -> "UrialTemplate":
        data = json.loads(RESOURCE.read_text(encoding="utf-8"))
        return cls(data["preamble"], [Example(**e) for e in data["examples"]])


def _pair(query: str, answer: str | None) -> str:
    # A fence inside the text would end the block early; a zero-width joiner
    # keeps it visible to the reader without closing the model's block.
    q = query.replace(FENCE, "`\u200d``")
    block = f"# Query:\n{FENCE}\n{q}\n{FENCE}\n\n# Answer:\n{FENCE}\n"
    if answer is None:
        return block
    return block + answer.replace(FENCE, "`\u200d``") + f"\n{FENCE}\n"


def render_urial(messages: list[dict], template: UrialTemplate) -> str:
    """Composed chat messages -> one URIAL document ending with an open answer fence.

    The system message (sections and pinned lessons) joins the preamble; the
    template's examples come first, then the document's own examples and the
    conversation (already turns in `messages`), then the newest question.
    """
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    parts = [template.preamble.strip()]
    if system.strip():
        parts.append(system.strip())
    blocks = [_pair(e.user, e.assistant) for e in template.examples]
    pending_query = None
    for m in turns:
        if m["role"] == "user":
            if pending_query is not None:  # two questions in a row: the first had no answer
                blocks.append(_pair(pending_query, ""))
            pending_query = m["content"]
        elif pending_query is not None:
            blocks.append(_pair(pending_query, m["content"]))
            pending_query = None
    blocks.append(_pair(pending_query or "", None))
    return "\n\n".join(parts) + "\n\n" + "\n".join(blocks)


def clean_answer(text: str) -> str:
    """Strip what URIAL leaves around an answer: fences and a trailing `# Query`."""
    text = text.split("# Query")[0]
    text = text.strip()
    if text.endswith(FENCE):
        text = text[: -len(FENCE)].rstrip()
    if text.startswith(FENCE):
        text = text[len(FENCE):].lstrip()
    return text
