"""The pass/fail tables: an evaluation's cases x columns (k/N per cell), learning's test questions
before and after; cells coloured by state, what changed marked and bold."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from workbench.evals.learn_text import QuestionRow, column_headers
from workbench.evals.report import cell_state
from workbench.evals.run_text import cell_label, column_header, regressed_cells, regression_tip
from workbench.evals.runner import EvalResult

# Translucent, so they read on light and dark bases alike.
STATE_COLOURS = {"pass": QColor(46, 160, 67, 110), "fail": QColor(215, 58, 73, 110),
                 "mixed": QColor(219, 171, 9, 120)}


class RunMatrix(QTableWidget):
    """An evaluation run: a column per version x model, a row per case, k/N repeats passed."""

    def __init__(self):
        super().__init__(0, 0)
        self.setObjectName("evalMatrix")
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)

    def show_result(self, result: EvalResult, base: int, compared: dict) -> None:
        """Fill it from result; compared (EvalResult.compare(base)) marks the regressions."""
        cols, cases = result.plan.columns, result.plan.cases
        regressed = regressed_cells(compared)
        self.clear()
        self.setColumnCount(len(cols))
        self.setRowCount(len(cases))
        self.setHorizontalHeaderLabels([column_header(c.label, result.column_stats(j))
                                        for j, c in enumerate(cols)])
        # Rows are numbered as in the case table beside it; the question shows on hover.
        for i, c in enumerate(cases):
            header = QTableWidgetItem(str(i + 1))
            header.setToolTip(c.query)
            self.setVerticalHeaderItem(i, header)
        bold = QFont(self.font())
        bold.setBold(True)
        for j in range(len(cols)):
            for i in range(len(cases)):
                cell = result.cells[j][i]
                item = QTableWidgetItem(cell_label(cell.k, cell.n, (j, i) in regressed))
                item.setTextAlignment(Qt.AlignCenter)
                state = cell_state(cell.k, cell.n)
                if state in STATE_COLOURS:
                    item.setBackground(QBrush(STATE_COLOURS[state]))
                if (j, i) in regressed:
                    item.setFont(bold)
                    item.setToolTip(regression_tip(cols[base].label))
                self.setItem(i, j, item)
        self.resizeColumnsToContents()


class BeforeAfterMatrix(QTableWidget):
    """Learning's test questions, a row each: the question, then pass or fail in each run."""

    def __init__(self):
        super().__init__(0, 0)
        self.setObjectName("learnMatrix")
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.horizontalHeader().setMinimumSectionSize(40)

    def show_rows(self, rows: list[QuestionRow], labels: list[str], runs: list[EvalResult]) -> None:
        """Fill it: runs titled by labels, rows from learn_text.question_rows(runs)."""
        self.clear()
        self.setColumnCount(1 + len(runs))
        self.setRowCount(len(rows))
        self.setHorizontalHeaderLabels(column_headers(labels, runs))
        bold = QFont(self.font())
        bold.setBold(True)
        for i, row in enumerate(rows):
            q = QTableWidgetItem(row.query)
            q.setToolTip(row.query)
            if row.change:
                q.setFont(bold)
            self.setItem(i, 0, q)
            for j, (passed, answer, text) in enumerate(zip(row.passed, row.answers, row.labels())):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignCenter)
                if passed is not None:
                    item.setBackground(QBrush(STATE_COLOURS[cell_state(int(passed), 1)]))
                if j == len(row.passed) - 1 and row.change:
                    item.setFont(bold)
                item.setToolTip(answer or "not answered")
                self.setItem(i, 1 + j, item)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)  # the question takes what is left
        for j in range(1, self.columnCount()):
            header.setSectionResizeMode(j, QHeaderView.ResizeToContents)
