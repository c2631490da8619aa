"""Chatting: the session the window and CLI drive, conversations, the run log, voting, Markdown."""
