"""Every colour the window uses, light and dark, and switching between them.

Widgets never hard-code a colour: style sheets, painted bars and generated HTML read the palette
in use (current()), and switching (apply) restyles the application and tells the window to redraw
what it painted or rendered itself.
"""

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette

from workbench.chat.markdown_blocks import use_code_style

LIGHT = {
    "window": "#F4F6F8", "base": "#FFFFFF", "surface": "#FBFCFD", "sunken": "#F7F8FA",
    "text": "#1F2933", "text_soft": "#3E4C59", "muted": "#5F6B7A", "faint": "#8A94A3",
    "border": "#D5DAE1", "border_strong": "#C3CAD3", "hover": "#F0F4F8", "checked": "#DCEBFA",
    "selection": "#CFE0F5", "accent": "#2F6FB0", "accent_text": "#FFFFFF", "accent_soft": "#A9C1DC",
    "accent_line": "#4C78A8", "danger": "#C0392B", "disabled_text": "#A0A8B3", "dock_title": "#EEF1F5",
    "error": "#B3261E", "error_bg": "#FDECEA", "error_fg": "#8C1D18",
    "warning": "#8A5A00", "warning_bg": "#FFF4D6", "warning_fg": "#6B4500",
    "success": "#1E7B34", "success_bg": "#E3F4E6", "success_fg": "#155724",
    "info_bg": "#E6F0FA", "info_fg": "#1D4F80",
    "hit": "#FFF3B0",
    "user_bg": "#EEF3FB", "user_accent": "#4C78A8",
    "assistant_bg": "#FFFFFF", "assistant_accent": "#54A24B",
    "system_bg": "#FBF6EA", "system_accent": "#F58518", "other_accent": "#999999",
    "budget_sections": "#4C78A8", "budget_lessons": "#54A24B", "budget_examples": "#F58518",
    "budget_conversation": "#B279A2", "budget_free": "#E4E7EB",
    "code_style": "friendly",
}

DARK = {
    "window": "#1B1F24", "base": "#22272E", "surface": "#262C34", "sunken": "#1E2329",
    "text": "#E6EAEF", "text_soft": "#C5CDD6", "muted": "#9AA5B1", "faint": "#7D8896",
    "border": "#3A424C", "border_strong": "#4A535E", "hover": "#2D343D", "checked": "#27405C",
    "selection": "#2F4D70", "accent": "#3D7FC4", "accent_text": "#FFFFFF", "accent_soft": "#34506E",
    "accent_line": "#6C9BD2", "danger": "#C7463A", "disabled_text": "#6B7580", "dock_title": "#262C34",
    "error": "#FF8A80", "error_bg": "#4A1F1C", "error_fg": "#FFD7D2",
    "warning": "#F2C14E", "warning_bg": "#4A3A12", "warning_fg": "#FBE3A6",
    "success": "#6FCF83", "success_bg": "#1C3D25", "success_fg": "#C9F0D2",
    "info_bg": "#1C3350", "info_fg": "#CFE3FA",
    "hit": "#6B5A12",
    "user_bg": "#25344A", "user_accent": "#6C9BD2",
    "assistant_bg": "#22272E", "assistant_accent": "#6FBF66",
    "system_bg": "#3A3222", "system_accent": "#F5A04A", "other_accent": "#8A8A8A",
    "budget_sections": "#6C9BD2", "budget_lessons": "#6FBF66", "budget_examples": "#F5A04A",
    "budget_conversation": "#C99BBE", "budget_free": "#3A424C",
    "code_style": "github-dark",
}

_current = {"dark": False, "applied": None}  # applied: the scheme last put on the application


def current() -> dict:
    """The palette in use."""
    return DARK if _current["dark"] else LIGHT


def c(name: str) -> str:
    """One colour of the palette in use, e.g. c("muted")."""
    return current()[name]


def is_dark() -> bool:
    return _current["dark"]


def system_prefers_dark() -> bool:
    """Whether the desktop asks for a dark colour scheme (Qt 6.5+ reads it from the platform)."""
    app = QGuiApplication.instance()
    return bool(app) and app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def qt_palette(p: dict) -> QPalette:
    """The palette as Qt's own, for what style sheets do not reach (scroll bars, menus, tips)."""
    pal = QPalette()
    for role, name in ((QPalette.Window, "window"), (QPalette.Base, "base"),
                       (QPalette.AlternateBase, "sunken"), (QPalette.Text, "text"),
                       (QPalette.WindowText, "text"), (QPalette.Button, "base"),
                       (QPalette.ButtonText, "text"), (QPalette.Highlight, "selection"),
                       (QPalette.HighlightedText, "text"), (QPalette.ToolTipBase, "surface"),
                       (QPalette.ToolTipText, "text"), (QPalette.PlaceholderText, "faint"),
                       (QPalette.Link, "accent_line"), (QPalette.Mid, "border"),
                       (QPalette.Dark, "border_strong")):
        pal.setColor(role, QColor(p[name]))
    for role in (QPalette.Text, QPalette.WindowText, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, QColor(p["disabled_text"]))
    return pal


class ThemeSignal(QObject):
    """Signals:
        changed(bool): the palette switched (True: dark); redraw what was painted by hand.
    """

    changed = Signal(bool)


THEME = ThemeSignal()


def wants_dark(theme: str) -> bool:
    """Whether a theme setting (system, light, dark) means the dark palette now."""
    return system_prefers_dark() if theme not in ("light", "dark") else theme == "dark"


def choose(dark: bool) -> None:
    """Read colours from the dark or light palette from now on (current(), c()); apply() puts it
    on the application."""
    _current["dark"] = bool(dark)


def apply(dark: bool, force: bool = False) -> None:
    """Use the dark or light palette everywhere: Qt's palette, the style sheet, code blocks.
    Applying the scheme already in use does nothing (restyling every widget takes time); what was
    painted by hand is redrawn (THEME.changed) only when its colours were another scheme's."""
    from workbench.ui.style import style_sheet
    app = QGuiApplication.instance()
    if not force and _current["applied"] == (bool(dark), id(app)):
        return
    repaint = force or _current["dark"] != bool(dark)  # not what the widgets were made with
    choose(dark)
    _current["applied"] = (bool(dark), id(app))
    p = current()
    use_code_style(p["code_style"], p["muted"])
    if app is not None:
        app.setPalette(qt_palette(p))
        if hasattr(app, "setStyleSheet"):
            app.setStyleSheet(style_sheet(p))
    if repaint:
        THEME.changed.emit(_current["dark"])
