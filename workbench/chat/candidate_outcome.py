"""How a candidate's run ended, as its card shows it: whole, stopped partway, never run (Qt-free)."""

from dataclasses import dataclass

from workbench.runtime.params import RunStats

NOT_RUN = "Not run: stopped"  # Stop came before this candidate's turn


@dataclass(frozen=True)
class Outcome:
    """What a card shows once its candidate is over.

    state: "done", "partial" (stopped with some text), "empty" (stopped before any text,
    or an empty answer) or "not run".
    """

    state: str
    status: str  # the stats line
    can_accept: bool  # Accept, rating and Teach… (a partial answer may still be taken)
    accept_label: str = "Accept"

    @property
    def partial(self) -> bool:
        return self.state == "partial"


def stats_line(s: RunStats, answered: bool | None = None) -> str:
    """"84 tok/s · first token 120 ms · 30/42 reused · 40 tokens"; a stopped run says so first,
    where an elided line still shows it. answered: whether any text came (default: counted)."""
    figures = (f"{s.decode_tokens_per_s:.0f} tok/s · first token {s.time_to_first_token_s * 1000:.0f} ms"
               f" · {s.reused_tokens:,}/{s.prompt_tokens:,} reused")
    if s.finish_reason != "cancelled":
        return (f"{figures} · {s.completion_tokens:,} tokens"
                + (" · hit max tokens" if s.finish_reason == "length" else ""))
    if not (s.completion_tokens > 0 if answered is None else answered):
        # No answer: its speed and first-token time mean nothing; what the prompt reused does.
        return f"Not answered: stopped before the first token · {s.reused_tokens:,}/{s.prompt_tokens:,} reused"
    if s.completion_tokens:
        return f"Partial: stopped after {s.completion_tokens:,} tokens · {figures}"
    return f"Partial: stopped · {figures}"  # text, but no count (a server that reported none)


def finished(stats: RunStats, text: str) -> Outcome:
    """A candidate that ran: whole, or stopped partway (LM Studio keeps a stopped reply and
    marks it "User Stopped"; here it stays acceptable, marked partial)."""
    has_text = bool(text.strip())
    if stats.finish_reason == "cancelled" and has_text:
        return Outcome("partial", stats_line(stats, True), True, "Accept partial")
    return Outcome("done" if has_text else "empty", stats_line(stats, has_text), has_text)


def never_ran() -> Outcome:
    """A candidate whose turn never came: the run was stopped first."""
    return Outcome("not run", NOT_RUN, False)
