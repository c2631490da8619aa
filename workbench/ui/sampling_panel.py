"""Sampling settings: temperature, top-p, top-k, min-p, repeat penalty, max tokens, seed, stops.

The spin boxes' ranges are the sampling schema's (runtime.params), and set_params shows any
saved settings without error: what does not fit is repaired and said so in a notice.
"""

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from workbench.runtime.params import MAX_SEED, NUMBER_RULES, SamplingParams, repair_params
from workbench.ui.layout import compact_body

_ESCAPES = {"n": "\n", "t": "\t", ",": ",", "\\": "\\"}


def stops_text(stops: list[str]) -> str:
    """Stop strings as the one-line field shows them: comma separated, with \\n, \\t, \\, and
    \\\\ for what a line cannot show (a newline) or would split at (a comma)."""
    def escaped(s: str) -> str:
        return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace(",", "\\,")
    return ", ".join(escaped(s) for s in stops)


def parse_stops(text: str) -> list[str]:
    """The stop strings in the field's text (see stops_text); a backslash before anything
    else is kept as it is."""
    pieces, raw, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            raw.append(text[i:i + 2])  # kept escaped until the piece is trimmed
            i += 2
            continue
        if c == ",":
            pieces.append("".join(raw))
            raw = []
        else:
            raw.append(c)
        i += 1
    pieces.append("".join(raw))
    stops = []
    for piece in pieces:
        piece, out, j = piece.strip(), [], 0
        while j < len(piece):
            if piece[j] == "\\" and j + 1 < len(piece) and piece[j + 1] in _ESCAPES:
                out.append(_ESCAPES[piece[j + 1]])
                j += 2
            else:
                out.append(piece[j])
                j += 1
        if out:
            stops.append("".join(out))
    return stops


class SamplingPanel(QWidget):
    """Signals:
        changed(): a setting changed.
    """

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("samplingPanel")
        d = SamplingParams()

        def dspin(name, step, decimals):
            rule = NUMBER_RULES[name]
            s = QDoubleSpinBox()
            s.setDecimals(decimals)
            # An excluded bound (top-p above 0) starts at the smallest step the box shows.
            s.setRange(rule.lo + 10 ** -decimals if rule.lo_open else rule.lo, rule.hi)
            s.setSingleStep(step)
            s.setValue(getattr(d, name))
            s.valueChanged.connect(self.changed)
            return s

        def ispin(name):
            s = QSpinBox()
            s.setRange(NUMBER_RULES[name].lo, NUMBER_RULES[name].hi)
            s.setValue(getattr(d, name))
            s.valueChanged.connect(self.changed)
            return s

        self.temperature = dspin("temperature", 0.05, 2)
        self.top_p = dspin("top_p", 0.05, 3)
        self.top_k = ispin("top_k")
        self.min_p = dspin("min_p", 0.01, 3)
        self.repeat_penalty = dspin("repeat_penalty", 0.05, 2)
        self.max_tokens = ispin("max_tokens")
        # A QSpinBox holds 32-bit signed numbers and seeds go to 2**32 - 2: a double holds them
        # exactly. -1 shows as "random" (no seed).
        self.seed = QDoubleSpinBox()
        self.seed.setDecimals(0)
        self.seed.setRange(-1, MAX_SEED)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.seed.valueChanged.connect(self.changed)
        self.stop = QLineEdit()
        self.stop.setPlaceholderText("comma separated, e.g. ###, \\nUser:")
        self.stop.setToolTip("Stop strings, comma separated: \\n is a newline, \\, a comma, "
                             "\\t a tab, \\\\ a backslash")
        self.stop.editingFinished.connect(self.changed)
        self.answer_regex = QLineEdit()
        self.answer_regex.setObjectName("answerRegex")
        self.answer_regex.setPlaceholderText("default: a marked answer, else a short one's last number")
        self.answer_regex.setToolTip("How to find each candidate's final answer when the candidates "
                                     "vote (self-consistency); a group, if any, is the answer")
        self.samples = QSpinBox()
        self.samples.setRange(1, 8)
        self.samples.setValue(2)
        self.samples.valueChanged.connect(self.changed)
        self.samples.setObjectName("samplesSpin")
        # What set_params had to repair in the saved settings, until the next document.
        self.notice = QLabel()
        self.notice.setObjectName("samplingNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        body = compact_body(self, 520)
        form = QFormLayout(body)
        form.addRow(self.notice)
        # The number of candidates sits with the candidates (the window places it there).
        for label, w in (("Temperature", self.temperature),
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
            seed=None if self.seed.value() < 0 else int(self.seed.value()),
            stop=parse_stops(self.stop.text()))

    def set_params(self, saved) -> list[str]:
        """Show saved settings; never raises, whatever `saved` holds. Values outside the
        schema are repaired (runtime.params.repair_params) and listed in the panel's notice;
        returns that list."""
        clean, notes = repair_params(saved)
        p = SamplingParams.from_dict(clean)
        for name in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens"):
            self._set(getattr(self, name), getattr(p, name))
        self._set(self.seed, -1 if p.seed is None else p.seed)
        self.stop.blockSignals(True)
        self.stop.setText(stops_text(p.stop))
        self.stop.blockSignals(False)
        self.notice.setText("Some saved sampling settings could not be used as they were:\n"
                            + "\n".join(notes))
        self.notice.setVisible(bool(notes))
        return notes

    @staticmethod
    def _set(widget, value) -> None:
        # Clamped here as well as by Qt: a QSpinBox given a number beyond 32 bits raises.
        value = min(max(value, widget.minimum()), widget.maximum())
        widget.blockSignals(True)
        widget.setValue(int(value) if isinstance(widget, QSpinBox) else float(value))
        widget.blockSignals(False)
