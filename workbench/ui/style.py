"""The window's style sheet, made from the palette in use: quiet colours, clear type, room to breathe."""

from workbench.resources import resource_path
from workbench.ui.palette import LIGHT

_TEMPLATE = """
QMainWindow, QWidget { font-size: 10pt; }
QMainWindow, QDialog { background: %(window)s; }
QLabel#paneTitle { font-size: 11pt; font-weight: 600; color: %(text)s; padding: 0 0 2px 0; }
QLabel#sectionHint, QLabel#modeLabel, QLabel#cardStats, QLabel#cacheStatus, QLabel#mutedText,
QLabel#candidatesQuestion {
    color: %(muted)s; }
QLabel#candidatesPlaceholder { color: %(faint)s; }
QLabel#exportNotes { color: %(warning)s; }
QLabel#notebookMessage, QLabel#notebookMessage[kind="warning"] { color: %(warning)s; }
QLabel#notebookMessage[kind="success"] { color: %(success)s; }
QLabel#notebookMessage[kind="info"] { color: %(text_soft)s; }
QPlainTextEdit, QTextBrowser, QLineEdit, QTreeWidget, QListWidget, QTableWidget, QTextEdit {
    border: 1px solid %(border)s; border-radius: 4px; background: %(base)s; color: %(text)s;
    selection-background-color: %(selection)s; selection-color: %(text)s; }
QPlainTextEdit#composedPreview, QPlainTextEdit#modelSeesView { background: %(sunken)s; color: %(text_soft)s; }
QFrame#outputCard { border: 1px solid %(border)s; border-radius: 6px; background: %(surface)s; }
QFrame#outputCard[majority="true"] { border: 2px solid %(success)s; }
QPushButton, QToolButton#panelButton { padding: 3px 8px; border: 1px solid %(border_strong)s; border-radius: 4px;
    background: %(base)s; color: %(text)s; }
QPushButton:hover { background: %(hover)s; }
QPushButton:checked { background: %(checked)s; border-color: %(accent_line)s; }
QPushButton:disabled { color: %(disabled_text)s; }
QPushButton#sendButton, QPushButton#acceptButton { background: %(accent)s; color: %(accent_text)s;
    border-color: %(accent)s; }
QPushButton#sendButton:disabled, QPushButton#acceptButton:disabled { background: %(accent_soft)s;
    border-color: %(accent_soft)s; color: %(accent_text)s; }
QPushButton#stopButton:enabled { background: %(danger)s; color: white; border-color: %(danger)s; }
QToolButton { color: %(text)s; }
QTabWidget::pane { border: 1px solid %(border)s; border-radius: 4px; top: -1px; }
QTabBar::tab { padding: 4px 10px; color: %(text_soft)s; background: %(window)s;
    border: 1px solid %(border)s; border-bottom: none; border-top-left-radius: 4px;
    border-top-right-radius: 4px; margin-right: 2px; }
QTabBar::tab:selected { background: %(base)s; color: %(text)s; }
QHeaderView::section { background: %(sunken)s; color: %(text_soft)s; border: none;
    border-bottom: 1px solid %(border)s; padding: 2px 4px; }
QDockWidget { color: %(text)s; }
QDockWidget::title { padding: 3px 6px; background: %(dock_title)s; }
QMenuBar, QMenu { background: %(window)s; color: %(text)s; }
QMenu::item:selected, QMenuBar::item:selected { background: %(selection)s; }
QStatusBar { color: %(text_soft)s; }
QComboBox { background: %(base)s; color: %(text)s;
    border: 1px solid %(border_strong)s; border-radius: 4px; padding: 1px 4px; }
QComboBox QAbstractItemView { background: %(base)s; color: %(text)s; selection-background-color: %(selection)s; }
QCheckBox { color: %(text)s; }
QCheckBox::indicator, QListWidget::indicator, QTreeWidget::indicator { width: 12px; height: 12px;
    border: 1px solid %(border_strong)s; border-radius: 3px; background: %(base)s; }
QCheckBox::indicator:checked, QListWidget::indicator:checked, QTreeWidget::indicator:checked {
    background: %(accent)s; border-color: %(accent)s; image: url("%(check_mark)s"); }
QProgressBar { border: 1px solid %(border)s; border-radius: 4px; background: %(sunken)s; color: %(text)s;
    text-align: center; max-height: 16px; }
QProgressBar::chunk { background: %(accent_soft)s; }
QScrollArea { background: transparent; }
QFrame#notice, QFrame#errorBanner { border-radius: 6px; }
QFrame#notice[kind="info"] { background: %(info_bg)s; border: 1px solid %(accent_line)s; }
QFrame#notice[kind="info"] QLabel { color: %(info_fg)s; }
QFrame#notice[kind="success"] { background: %(success_bg)s; border: 1px solid %(success)s; }
QFrame#notice[kind="success"] QLabel { color: %(success_fg)s; }
QFrame#notice[kind="warning"], QFrame#errorBanner[kind="warning"] { background: %(warning_bg)s;
    border: 1px solid %(warning)s; }
QFrame#notice[kind="warning"] QLabel, QFrame#errorBanner[kind="warning"] QLabel { color: %(warning_fg)s; }
QFrame#notice[kind="error"], QFrame#errorBanner[kind="error"] { background: %(error_bg)s;
    border: 1px solid %(error)s; }
QFrame#notice[kind="error"] QLabel, QFrame#errorBanner[kind="error"] QLabel { color: %(error_fg)s; }
QToolButton#noticeClose { font-size: 12pt; padding: 0 4px; border: none; }
QPushButton#noticeAction { font-weight: 600; }
"""


# A styled indicator loses Qt's own tick: this draws one (white, on the accent colour of both palettes).
CHECK_MARK = resource_path("check.svg").as_posix()


def style_sheet(palette: dict) -> str:
    """The style sheet for a palette (palette.LIGHT or palette.DARK)."""
    return _TEMPLATE % {**palette, "check_mark": CHECK_MARK}


STYLE_SHEET = style_sheet(LIGHT)  # the light one, for code that sets a sheet before the palette
