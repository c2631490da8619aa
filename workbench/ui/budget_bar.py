"""The context budget bar: how the context window is spent, as one stacked bar."""

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from workbench.ui.palette import c

PARTS = ("sections", "lessons", "examples", "conversation", "free")


class BudgetBar(QWidget):
    """A stacked bar of sections, lessons, examples, conversation and free room."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("budgetBar")
        self.setMinimumHeight(30)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.parts: dict[str, int] = {}
        self.n_ctx = 0

    def set_breakdown(self, breakdown: dict[str, int], n_ctx: int) -> None:
        fixed = {"lessons", "examples", "conversation"}
        sections = sum(v for k, v in breakdown.items() if k not in fixed)
        used = sum(breakdown.values())
        self.parts = {"sections": sections, "lessons": breakdown.get("lessons", 0),
                      "examples": breakdown.get("examples", 0),
                      "conversation": breakdown.get("conversation", 0),
                      "free": max(0, n_ctx - used)}
        self.n_ctx = n_ctx
        lines = [f"{k}: {v:,} tokens" for k, v in breakdown.items()]
        self.setToolTip("\n".join(lines + [f"free: {n_ctx - used:,} of {n_ctx:,}"]))
        self.update()

    def label(self) -> str:
        used = self.n_ctx - self.parts.get("free", 0)
        return f"{used:,} / {self.n_ctx:,} tokens"

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        font = p.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        p.setFont(font)
        metrics = p.fontMetrics()
        line = metrics.height()
        p.setPen(QColor(c("text_soft")))
        label = f"Context: {self.label()}"
        p.drawText(QRectF(0, 0, self.width(), line), Qt.AlignLeft | Qt.AlignVCenter, label)
        # The legend follows the label on its line, and wraps when the pane is narrow.
        p.setPen(QColor(c("muted")))
        x, y = metrics.horizontalAdvance(label) + 14.0, 0.0
        for key in PARTS:
            text = f"{key} {self.parts.get(key, 0):,}"
            width = 12 + metrics.horizontalAdvance(text)
            if x > 0 and x + width > self.width():
                x, y = 0.0, y + line
            p.fillRect(QRectF(x, y + (line - 9) / 2, 9, 9), QColor(c(f"budget_{key}")))
            p.drawText(QRectF(x + 12, y, width, line), Qt.AlignLeft | Qt.AlignVCenter, text)
            x += width + 8
        bar = QRectF(0, y + line + 2, self.width(), 8)
        total = max(1, sum(self.parts.values()))
        x = 0.0
        for key, value in self.parts.items():
            w = bar.width() * value / total
            p.fillRect(QRectF(x, bar.top(), w, bar.height()), QColor(c(f"budget_{key}")))
            x += w
        needed = int(bar.bottom() + 2)
        if needed != self.minimumHeight():  # the legend wrapped (or unwrapped): make room
            self.setMinimumHeight(needed)
