"""The window's style sheet: quiet colours, clear type, room to breathe."""

STYLE_SHEET = """
QMainWindow, QWidget { font-size: 10pt; }
QLabel#paneTitle { font-size: 11pt; font-weight: 600; color: #1F2933; padding: 2px 0 4px 0; }
QPlainTextEdit, QTextBrowser, QLineEdit, QTreeWidget, QListWidget, QTableWidget {
    border: 1px solid #D5DAE1; border-radius: 4px; background: #FFFFFF;
    selection-background-color: #CFE0F5; selection-color: #1F2933; }
QPlainTextEdit#composedPreview { background: #F7F8FA; color: #3E4C59; }
QFrame#outputCard { border: 1px solid #D5DAE1; border-radius: 6px; background: #FBFCFD; }
QPushButton { padding: 4px 8px; border: 1px solid #C3CAD3; border-radius: 4px; background: #FFFFFF; }
QPushButton:hover { background: #F0F4F8; }
QPushButton:checked { background: #DCEBFA; border-color: #4C78A8; }
QPushButton:disabled { color: #A0A8B3; }
QPushButton#sendButton, QPushButton#acceptButton { background: #2F6FB0; color: white; border-color: #2F6FB0; }
QPushButton#sendButton:disabled, QPushButton#acceptButton:disabled { background: #A9C1DC; border-color: #A9C1DC; }
QPushButton#stopButton:enabled { background: #C0392B; color: white; border-color: #C0392B; }
QDockWidget::title { padding: 4px; background: #EEF1F5; }
QStatusBar { color: #3E4C59; }
"""
