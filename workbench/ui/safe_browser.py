"""A QTextBrowser for untrusted Markdown: loads nothing by itself, opens links only on click."""

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QTextBrowser

APP_SCHEME = "wb"  # links the window itself handles: wb:action/ARG


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
        # Images and style sheets named in model output are never fetched,
        # neither from the network nor from local files.
        return None

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == APP_SCHEME:
            action, _, arg = url.path().partition("/")
            self.action.emit(action, arg)
        elif url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
