"""How a candidate's card reads once its run is over: whole, stopped partway, never run."""

from workbench.chat.candidate_outcome import NOT_RUN, finished, never_ran, stats_line
from workbench.runtime.params import RunStats


def stats(reason: str, tokens: int = 40) -> RunStats:
    return RunStats(prompt_tokens=398, reused_tokens=379, completion_tokens=tokens,
                    time_to_first_token_s=0.12, decode_tokens_per_s=84.0, finish_reason=reason)


def test_a_whole_answer_shows_its_figures_and_can_be_accepted():
    o = finished(stats("stop"), "Paris is the capital.")
    assert o.state == "done" and o.can_accept and o.accept_label == "Accept" and not o.partial
    assert o.status == "84 tok/s · first token 120 ms · 379/398 reused · 40 tokens"
    assert stats_line(stats("length")).endswith("40 tokens · hit max tokens")


def test_a_stopped_answer_says_it_is_partial_first_and_may_still_be_accepted():
    o = finished(stats("cancelled", 111), "Rome was founded")
    assert o.state == "partial" and o.partial and o.can_accept and o.accept_label == "Accept partial"
    # First in the line: an elided stats line still shows it.
    assert o.status.startswith("Partial: stopped after 111 tokens · 84 tok/s")
    assert o.status.count("111") == 1


def test_stopped_before_the_first_token_offers_nothing_to_accept():
    o = finished(stats("cancelled", 0), "")
    assert o.state == "empty" and not o.can_accept and not o.partial
    assert o.status == "Not answered: stopped before the first token · 379/398 reused"
    assert "tok/s" not in o.status  # no speed for an answer that never began


def test_text_without_a_token_count_is_still_partial():
    o = finished(stats("cancelled", 0), "Rome was")  # a server that reported no usage
    assert o.partial and o.status.startswith("Partial: stopped · ")


def test_a_candidate_stop_came_before_was_not_run():
    o = never_ran()
    assert o.state == "not run" and o.status == NOT_RUN == "Not run: stopped" and not o.can_accept
