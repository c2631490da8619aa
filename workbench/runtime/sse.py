"""Server-sent events: the `data:` payloads of a stream, as OpenAI-compatible servers send them."""

from collections.abc import Iterable, Iterator

DONE = "[DONE]"  # OpenAI's end-of-stream marker


def events(lines: Iterable[bytes]) -> Iterator[str]:
    """The data of each event in a stream of lines (bytes, newline included or not): the
    `data:` lines of one event joined with newlines, comments and other fields skipped."""
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:  # a blank line ends an event
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):  # a comment (keep-alive pings)
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value.removeprefix(" "))
    if data:  # the last event, when the stream ended without its blank line
        yield "\n".join(data)
