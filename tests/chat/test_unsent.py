"""The message being typed, kept by the session with its conversation (Qt-free)."""

from tests.fakes import FakeEngine
from workbench.chat.session import ChatSession


def test_a_new_conversations_unsent_message_follows_it_when_it_is_stored(ws):
    """The session moves the typed text to the conversation once it has an id."""
    s = ChatSession(ws, FakeEngine())
    s.save_unsent("Half typed")
    assert s.unsent() == "Half typed"
    cid = s.ensure_conversation()
    assert s.unsent_key() == f"unsent:conversation:{cid}" and s.unsent() == "Half typed"
    s.new_conversation()
    assert s.unsent() == ""
    s.conversation_id = cid
    s.save_unsent("   ")  # blank: forgotten
    assert s.unsent() == "" and not list(ws.db["settings"].rows_where("key like 'unsent:%'"))
