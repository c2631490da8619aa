"""A stand-in engine for the pure tier: words are tokens, answers are scripted."""

import tempfile

from workbench.runtime.models import ModelInfo
from workbench.runtime.params import RunStats


class FakeEngine:
    """Quacks like runtime.engine.Engine for the session and generation code.

    Args:
        answers: the texts it answers with, in turn (the last one repeats).
        n_ctx: its context size in tokens (words).
    """

    def __init__(self, answers=("An answer.",), n_ctx: int = 4096, name: str = "Fake chat"):
        self.answers, self._n_ctx = list(answers), n_ctx
        # A real file, so the run log can hash "the model".
        with tempfile.NamedTemporaryFile("wb", suffix=".gguf", delete=False) as f:
            f.write(name.encode())
        self.info = ModelInfo(path=f.name, name=name,
                              architecture="fake", size_label="", quantization="", file_size=0,
                              context_length=n_ctx, n_layers=1, chat_template="{{ messages }}")
        self.loaded = True
        self.calls: list[list[dict]] = []

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def render_chat(self, messages: list[dict]) -> str:
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"

    def chat_tokens(self, messages: list[dict]) -> list[str]:
        return self.render_chat(messages).split(" ")

    def completion_tokens(self, prompt: str) -> list[str]:
        return prompt.split(" ")

    def show_tokens(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def stream_chat(self, messages, params=None, json_schema=None):
        self.calls.append(messages)
        text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        for word in text.split(" "):
            yield word + " "
        yield RunStats(prompt_tokens=len(self.chat_tokens(messages)),
                       completion_tokens=len(text.split()), finish_reason="stop")

    def cancel(self) -> None:
        pass
