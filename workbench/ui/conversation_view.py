"""The conversation pane: accepted messages as Markdown, with edit, branch, delete and branch arrows."""

import html
from dataclasses import dataclass

from ..conversations import Message
from ..markdown_render import render_markdown
from .safe_browser import APP_SCHEME, SafeBrowser

ROLE_STYLE = {"user": ("You", "#EEF3FB", "#4C78A8"), "assistant": ("Assistant", "#FFFFFF", "#54A24B"),
              "system": ("System", "#FBF6EA", "#F58518")}


@dataclass
class ShownMessage:
    message: Message
    branch: int  # 1-based position among its siblings
    branches: int
    prev_id: int | None
    next_id: int | None


def _link(action: str, arg, text: str) -> str:
    return f'<a href="{APP_SCHEME}:{action}/{arg}" style="color:#5F6B7A;text-decoration:none">{text}</a>'


class ConversationView(SafeBrowser):
    """Signals (from SafeBrowser.action): edit/ID, branch/ID, delete/ID, switch/ID."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("conversationView")
        self.shown: list[ShownMessage] = []

    def show_messages(self, shown: list[ShownMessage]) -> None:
        self.shown = shown
        if not shown:
            self.setHtml('<p style="color:#8A94A3">No messages yet. Type a message below and '
                         "press Ctrl+Enter; accept the best candidate into the conversation.</p>")
            return
        parts = []
        for s in shown:
            m = s.message
            who, bg, accent = ROLE_STYLE.get(m.role, (m.role, "#FFFFFF", "#999999"))
            nav = ""
            if s.branches > 1:
                prev = _link("switch", s.prev_id, "‹") if s.prev_id else "‹"
                nxt = _link("switch", s.next_id, "›") if s.next_id else "›"
                nav = f"&nbsp;&nbsp;{prev} {s.branch}/{s.branches} {nxt}"
            actions = " · ".join([_link("edit", m.id, "edit"), _link("branch", m.id, "branch"),
                                  _link("delete", m.id, "delete")])
            parts.append(
                f'<table width="100%" cellpadding="8" cellspacing="0" style="margin-bottom:6px">'
                f'<tr><td style="background:{bg};border-left:3px solid {accent}">'
                f'<span style="color:{accent};font-weight:600">{html.escape(who)}</span>'
                f'<span style="color:#8A94A3;font-size:small">{nav}&nbsp;&nbsp;&nbsp;{actions}</span>'
                f"{render_markdown(m.content)}</td></tr></table>")
        self.setHtml("".join(parts))
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
