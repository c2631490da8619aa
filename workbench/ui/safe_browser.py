"""A QTextBrowser for untrusted Markdown: loads nothing by itself, opens links only on click."""

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QTextDocument
from PySide6.QtWidgets import QTextBrowser

from workbench.chat.markdown_blocks import code_for, full_code
from workbench.ui.layout import copy_text

APP_SCHEME = "wb"  # links the window itself handles: wb:action/ARG


def nothing(kind):
    """What a resource that must not load is: an empty image, or empty text."""
    return QImage() if kind == QTextDocument.ImageResource else ""


class SafeBrowser(QTextBrowser):
    """Signals:
        action(str, str): a wb: link was clicked (action, argument).
    """

    action = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._clicked)

    def loadResource(self, kind, url):
        # Images and style sheets named in model output are never fetched, neither from the
        # network nor from local files. An empty value, not None: given None, QTextDocument
        # falls back to reading local files itself.
        return nothing(kind)

    def texts(self) -> list[str]:
        """The full texts shown (a copy link finds the whole code block in them)."""
        return []

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == APP_SCHEME:
            action, _, arg = url.path().partition("/")
            if action == "copy-code":
                piece = code_for(arg)
                if piece is not None:
                    copy_text(self, full_code(piece, self.texts()), "the code")
            self.action.emit(action, arg)
        elif url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
