"""A prompt document: ordered sections, few-shot examples, variables and sampling parameters;
and the schema a document is checked (on import) or repaired (on load) against."""

import hashlib
import json
from dataclasses import asdict, dataclass, field

from workbench.errors import WorkbenchError
from workbench.runtime.params import check_params, repair_params, shown

# The parts large production system prompts are made of, in their usual order. A new document
# starts with them empty: nothing the user did not write goes to the model (small models repeat
# a date or a model name they are given). What each is for shows as a hint in the empty editor.
DEFAULT_SECTIONS = [
    ("role", ""),
    ("current information", ""),
    ("guidelines", ""),
    ("tools", ""),
    ("safety", ""),
    ("output format", ""),
]
SECTION_HINTS = {
    "role": "Who the model is and who it talks to, e.g. “You are a patient maths tutor for "
            "twelve-year-olds.”",
    "current information": "Facts the model cannot know: today's date ({{date}}), the product, "
                           "the user's account. Insert variable… puts in {{date}} or {{model}}.",
    "guidelines": "How to behave: tone, length, what to do when unsure, e.g. “Ask one question "
                  "when the request is ambiguous.”",
    "tools": "Tools the model may call, what each does and when to use it.",
    "safety": "What to refuse or hand over to a person, and how to say so.",
    "output format": "The shape of every answer, e.g. “Answer in at most three sentences.” or "
                     "“Reply with JSON only.”",
}
BUILT_IN_VARIABLES = ("date", "model")  # filled in by composition; offered, never put in by default


def section_hint(name: str) -> str:
    """The placeholder for an empty section: what it is for."""
    return SECTION_HINTS.get(name, f"Write the “{name}” part of the system prompt. "
                                   "{{variables}} are filled in when the prompt is composed.")
DEFAULT_NAME = "Untitled prompt"
MAX_LESSON_BUDGET = 1_000_000
MAX_RETRIEVAL_K = 100  # more retrieved lessons than this would crowd out the prompt itself
# name: (default, lowest, highest, how the range reads)
COUNT_RULES = {
    "lesson_budget": (512, 1, MAX_LESSON_BUDGET, "a number of tokens from 1 to 1,000,000"),
    "retrieval_k": (3, 0, MAX_RETRIEVAL_K, "a whole number of lessons from 0 to 100"),
}


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
    name: str = DEFAULT_NAME
    sections: list[Section] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # SamplingParams fields the user set
    lesson_budget: int = 512  # tokens the pinned lessons may take in the system prompt
    retrieval_k: int = 3  # lessons retrieved per user message
    # What was repaired or converted when this document was read (never saved): the
    # window and the CLI show them. Not part of the content, its hash or equality.
    notes: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def default(cls, name: str = DEFAULT_NAME) -> "PromptDocument":
        return cls(name=name, sections=[Section(n, t, True) for n, t in DEFAULT_SECTIONS])

    def to_data(self) -> dict:
        """The document as plain data, as it is saved (without the notes)."""
        data = asdict(self)
        del data["notes"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_data(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "PromptDocument":
        """A saved document; bad values (from an older version, a hand edit) are repaired,
        with a note for each in .notes. WorkbenchError only when it is not a document at all."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as e:
            raise WorkbenchError(f"This prompt document is damaged: {str(e)[:200]}") from None
        if not isinstance(data, dict):
            raise WorkbenchError(f"This prompt document is damaged: it is {shown(data)}, "
                                 "not a document.")
        return document_from_data(data, strict=False)

    def validated(self, error: type[WorkbenchError] = WorkbenchError) -> "PromptDocument":
        """This document if every field fits the schema (a copy, values normalised);
        `error` naming the first field that does not, and what it may be."""
        doc = document_from_data(self.to_data(), strict=True, error=error)
        doc.notes = list(self.notes)
        return doc

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


class _Reader:
    """Reads document fields either strictly (the first bad value raises `error`) or
    forgivingly (a bad value is repaired and noted): one set of rules for both."""

    def __init__(self, strict: bool, error: type[WorkbenchError]):
        self.strict, self.error, self.notes = strict, error, []

    def problem(self, where: str, value, rule: str, repaired, dropped: bool = False):
        """A value that breaks a rule: raise, or note the repair and return the repaired value."""
        if self.strict:
            raise self.error(f"{where} must be {rule}; not {shown(value)}.")
        outcome = "it was left out" if dropped else f"it is now {shown(repaired)}"
        self.notes.append(f"The document's {where} was {shown(value)}, but it must be {rule}; "
                          f"{outcome}.")
        return repaired

    def text(self, where: str, value, default: str = "") -> str:
        if isinstance(value, str):
            return value
        try:  # keep what there is: 5 becomes "5", a list its JSON
            repaired = default if value is None else json.dumps(value, ensure_ascii=False)
        except (ValueError, TypeError, RecursionError):
            repaired = default
        return self.problem(where, value, "text", repaired)

    def line(self, where: str, value, blank_ok: bool = False) -> str:
        """One line of text (a name): line breaks become spaces; blank only if blank_ok."""
        text = self.text(where, value, "" if blank_ok else DEFAULT_NAME)
        if not ("\n" in text or "\r" in text) and (blank_ok or text.strip()):
            return text
        one = " ".join(part.strip() for part in text.splitlines() if part.strip())
        rule = "one line of text" + ("" if blank_ok else ", not blank")
        return self.problem(where, value, rule, one or ("" if blank_ok else DEFAULT_NAME))

    def flag(self, where: str, value) -> bool:
        if isinstance(value, bool):
            return value
        return self.problem(where, value, "true or false", True)

    def count(self, name: str, value) -> int:
        default, lo, hi, says = COUNT_RULES[name]
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and lo <= value <= hi:
            return value
        if whole or (isinstance(value, float) and value == value):
            repaired = int(round(min(max(value, lo), hi)))  # the nearest valid count
        else:
            repaired = default
        return self.problem(name, value, says, repaired)

    def items(self, where: str, value, kind: type) -> list | dict:
        if isinstance(value, kind):
            return value
        what = "a list" if kind is list else "a mapping of names to values"
        return self.problem(where, value, what, kind())

    def params(self, value) -> dict:
        if self.strict:
            return check_params(value, error=self.error, where="params.")
        fixed, notes = repair_params(value)
        self.notes += notes
        return fixed


def document_from_data(data: dict, strict: bool,
                       error: type[WorkbenchError] = WorkbenchError) -> PromptDocument:
    """A document from saved or imported data. strict: `error` for the first field that breaks
    the schema, naming it; otherwise every bad value is repaired (nearest valid value, else the
    default) and noted in .notes. Keys this version does not know are ignored."""
    r = _Reader(strict, error)
    sections = []
    for i, s in enumerate(r.items("sections", data.get("sections", []), list)):
        if not isinstance(s, dict):
            r.problem(f"sections[{i}]", s, "a section {name, text, enabled}", None, dropped=True)
            continue  # nothing in it to keep
        sections.append(Section(r.line(f"sections[{i}].name", s.get("name", ""), blank_ok=True),
                                r.text(f"sections[{i}].text", s.get("text", "")),
                                r.flag(f"sections[{i}].enabled", s.get("enabled", True))))
    examples = []
    for i, e in enumerate(r.items("examples", data.get("examples", []), list)):
        if not isinstance(e, dict):
            r.problem(f"examples[{i}]", e, "an example {user, assistant}", None, dropped=True)
            continue
        examples.append(Example(r.text(f"examples[{i}].user", e.get("user", "")),
                                r.text(f"examples[{i}].assistant", e.get("assistant", ""))))
    variables = {}
    for k, v in r.items("variables", data.get("variables", {}), dict).items():
        name = k if isinstance(k, str) else r.problem("a variable's name", k, "text", str(k))
        variables[name] = r.text(f"variables[{shown(name)}]", v)
    doc = PromptDocument(
        name=r.line("name", data.get("name", DEFAULT_NAME)),
        sections=sections, examples=examples, variables=variables,
        params=r.params(r.items("params", data.get("params", {}), dict)),
        lesson_budget=r.count("lesson_budget", data.get("lesson_budget", 512)),
        retrieval_k=r.count("retrieval_k", data.get("retrieval_k", 3)))
    doc.notes = r.notes
    return doc
