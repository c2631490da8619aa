"""Sampling settings: temperature, top-p, top-k, min-p, repeat penalty, max tokens, seed, stops."""

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox,
                               QWidget)

from ..engine import SamplingParams
from .layout import compact_body


class SamplingPanel(QWidget):
    """Signals:
        changed(): a setting changed.
    """

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("samplingPanel")
        d = SamplingParams()

        def dspin(lo, hi, step, value):
            s = QDoubleSpinBox()
            s.setRange(lo, hi)
            s.setSingleStep(step)
            s.setDecimals(2)
            s.setValue(value)
            s.valueChanged.connect(self.changed)
            return s

        def ispin(lo, hi, value):
            s = QSpinBox()
            s.setRange(lo, hi)
            s.setValue(value)
            s.valueChanged.connect(self.changed)
            return s

        self.temperature = dspin(0, 2, 0.05, d.temperature)
        self.top_p = dspin(0, 1, 0.05, d.top_p)
        self.top_k = ispin(0, 1000, d.top_k)
        self.min_p = dspin(0, 1, 0.01, d.min_p)
        self.repeat_penalty = dspin(0.5, 2, 0.05, d.repeat_penalty)
        self.max_tokens = ispin(1, 32768, d.max_tokens)
        self.seed = ispin(-1, 2**31 - 1, -1)
        self.seed.setSpecialValueText("random")
        self.stop = QLineEdit()
        self.stop.setPlaceholderText("comma separated, e.g. ###, User:")
        self.stop.editingFinished.connect(self.changed)
        self.answer_regex = QLineEdit()
        self.answer_regex.setObjectName("answerRegex")
        self.answer_regex.setPlaceholderText("default: last number, else last line")
        self.answer_regex.setToolTip("How to find each candidate's final answer for the "
                                     "majority vote (self-consistency); a group, if any, is the answer")
        self.samples = ispin(1, 8, 2)
        self.samples.setObjectName("samplesSpin")
        body = compact_body(self, 520)
        form = QFormLayout(body)
        for label, w in (("Candidates", self.samples), ("Temperature", self.temperature),
                         ("Top-p", self.top_p), ("Top-k", self.top_k), ("Min-p", self.min_p),
                         ("Repeat penalty", self.repeat_penalty), ("Max tokens", self.max_tokens),
                         ("Seed", self.seed), ("Stop strings", self.stop),
                         ("Final answer regex", self.answer_regex)):
            form.addRow(label, w)

    def params(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature.value(), top_p=self.top_p.value(), top_k=self.top_k.value(),
            min_p=self.min_p.value(), repeat_penalty=self.repeat_penalty.value(),
            max_tokens=self.max_tokens.value(),
            seed=None if self.seed.value() < 0 else self.seed.value(),
            stop=[s.strip() for s in self.stop.text().split(",") if s.strip()])

    def set_params(self, saved: dict) -> None:
        p = SamplingParams.from_dict(saved)
        for name in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens"):
            widget = getattr(self, name)
            widget.blockSignals(True)
            widget.setValue(getattr(p, name))
            widget.blockSignals(False)
        for widget, set_value in ((self.seed, lambda: self.seed.setValue(-1 if p.seed is None else p.seed)),
                                  (self.stop, lambda: self.stop.setText(", ".join(p.stop)))):
            widget.blockSignals(True)
            set_value()
            widget.blockSignals(False)
