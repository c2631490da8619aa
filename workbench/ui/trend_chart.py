"""A version's pass rates over its runs, drawn as a line (the Evaluate view's history)."""

import itertools

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QWidget


class TrendChart(QWidget):
    """Pass rates of one version's runs over time, oldest left (QPainter; palette colours)."""

    def __init__(self):
        super().__init__()
        self.setObjectName("evalTrend")
        self.setMinimumHeight(90)
        self.points: list[float] = []

    def set_points(self, rates: list[float]) -> None:
        self.points = rates[-30:]
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        pal = self.palette()
        r = self.rect().adjusted(28, 8, -8, -14)
        p.setPen(QPen(pal.color(pal.ColorRole.Mid), 1))
        p.drawRect(r)
        p.setPen(pal.color(pal.ColorRole.WindowText))
        p.drawText(2, r.top() + 10, "100%")
        p.drawText(2, r.bottom(), "0%")
        if not self.points:
            p.drawText(r, Qt.AlignCenter, "no runs yet")
            return
        step = r.width() / max(1, len(self.points) - 1)
        pts = [QPointF(r.left() + i * step if len(self.points) > 1 else r.center().x(),
                       r.bottom() - rate * r.height()) for i, rate in enumerate(self.points)]
        p.setPen(QPen(pal.color(pal.ColorRole.Highlight), 2))
        for a, b in itertools.pairwise(pts):
            p.drawLine(a, b)
        p.setBrush(pal.color(pal.ColorRole.Highlight))
        for pt in pts:
            p.drawEllipse(pt, 3, 3)

