"""Teach: edit an answer into the ideal one, get (or write) a rule, review, accept as a lesson."""

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)


class TeachDialog(QDialog):
    """Signals:
        proposeRequested(): the user wants the model to phrase a rule.
        saveRequested(str, str): save (rule, ideal answer) as a lesson.
    """

    proposeRequested = Signal()
    saveRequested = Signal(str, str)

    def __init__(self, question: str, answer: str, parent=None):
        super().__init__(parent)
        self.setObjectName("teachDialog")
        self.setWindowTitle("Teach a lesson")
        self.resize(640, 520)
        self.question, self.answer = question, answer
        intro = QLabel("Edit the answer into the one you wanted. It becomes the lesson's "
                       "<b>demonstration</b>, which small models follow far better than rules. "
                       "Then write the rule, or let the model propose one.")
        intro.setWordWrap(True)
        asked = QLabel(f"<b>Question:</b> {question}")
        asked.setWordWrap(True)
        self.ideal = QPlainTextEdit(answer)
        self.ideal.setObjectName("idealAnswer")
        self.rule = QLineEdit()
        self.proposed_rule: str | None = None  # the model's rule, when it proposed one
        self.rule.setObjectName("teachRule")
        self.rule.setPlaceholderText("When <situation>, <what to do>.")
        self.propose = QPushButton("Propose a rule")
        self.propose.setObjectName("proposeRuleButton")
        self.propose.clicked.connect(self.proposeRequested)
        self.status = QLabel()
        self.status.setObjectName("teachStatus")
        self.status.setWordWrap(True)
        self.save = QPushButton("Save lesson")
        self.save.setObjectName("saveLessonButton")
        self.save.clicked.connect(lambda: self.saveRequested.emit(self.rule.text().strip(),
                                                                  self.ideal.toPlainText().strip()))
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.close)
        rule_row = QHBoxLayout()
        rule_row.addWidget(self.rule, 1)
        rule_row.addWidget(self.propose)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(cancel)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(self)
        for w in (intro, asked, QLabel("<b>Ideal answer</b>")):
            layout.addWidget(w)
        layout.addWidget(self.ideal, 1)
        layout.addWidget(QLabel("<b>Rule</b>"))
        layout.addLayout(rule_row)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    def busy(self, on: bool) -> None:
        self.propose.setEnabled(not on)
        if on:
            self.status.setText("The model is thinking about a rule…")
