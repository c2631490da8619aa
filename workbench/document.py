"""A prompt document: ordered sections, few-shot examples, variables and sampling parameters."""

import hashlib
import json
from dataclasses import asdict, dataclass, field

from .errors import WorkbenchError

# The parts large production system prompts are made of, in their usual order.
DEFAULT_SECTIONS = [
    ("role", "You are a helpful, precise assistant."),
    ("current information", "Today is {{date}}. You are running as {{model}}."),
    ("guidelines", ""),
    ("tools", ""),
    ("safety", ""),
    ("output format", ""),
]


@dataclass
class Section:
    name: str
    text: str = ""
    enabled: bool = True


@dataclass
class Example:
    """A demonstration exchange: shown as earlier turns (chat) or Query/Answer (base)."""

    user: str
    assistant: str


@dataclass
class PromptDocument:
    name: str = "Untitled prompt"
    sections: list[Section] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # SamplingParams fields the user set
    lesson_budget: int = 512  # tokens the pinned lessons may take in the system prompt
    retrieval_k: int = 3  # lessons retrieved per user message

    @classmethod
    def default(cls, name: str = "Untitled prompt") -> "PromptDocument":
        return cls(name=name, sections=[Section(n, t, True) for n, t in DEFAULT_SECTIONS])

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "PromptDocument":
        try:
            data = json.loads(text)
            return cls(
                name=data["name"],
                sections=[Section(**s) for s in data.get("sections", [])],
                examples=[Example(**e) for e in data.get("examples", [])],
                variables=dict(data.get("variables", {})),
                params=dict(data.get("params", {})),
                lesson_budget=int(data.get("lesson_budget", 512)),
                retrieval_k=int(data.get("retrieval_k", 3)),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise WorkbenchError(f"This prompt document is damaged: {e}") from e

    def content_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise WorkbenchError(f"No section named {name!r}. Sections: "
                             + ", ".join(s.name for s in self.sections))

    def set_section(self, name: str, text: str) -> None:
        """Set a section's text, adding the section at the end if it is new."""
        try:
            self.section(name).text = text
        except WorkbenchError:
            self.sections.append(Section(name, text, True))
