"""Small layout helpers the panels share."""

from PySide6.QtWidgets import QHBoxLayout, QLayout, QVBoxLayout, QWidget


def button_row(*buttons) -> QHBoxLayout:
    """Buttons side by side, pushed to the left."""
    row = QHBoxLayout()
    for b in buttons:
        row.addWidget(b)
    row.addStretch()
    return row


def page(main: QWidget, *below) -> QWidget:
    """A tab page: one widget that takes the room, then widgets or layouts under it."""
    w = QWidget()
    v = QVBoxLayout(w)
    v.setContentsMargins(0, 4, 0, 0)
    v.addWidget(main, 1)
    for item in below:
        if isinstance(item, QLayout):
            v.addLayout(item)
        else:
            v.addWidget(item)
    return w


def compact_body(owner: QWidget, max_width: int) -> QWidget:
    """A body of limited width at the left of owner: a form stretched across a wide
    dock is hard to read."""
    body = QWidget()
    body.setMaximumWidth(max_width)
    outer = QHBoxLayout(owner)
    outer.addWidget(body)
    outer.addStretch()
    return body
