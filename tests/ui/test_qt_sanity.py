"""Guard against a broken PySide6 build: 6.12.0 drops a reference to True on every emit."""

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    token = Signal(int, str)


def test_emitting_connected_signals_keeps_bool_refcounts(qapp):
    e, got = Emitter(), []
    e.token.connect(lambda i, s: got.append(s))
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(500):  # a long answer streams thousands of these
        e.token.emit(0, "x")
    assert len(got) == 500
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert after[0] >= before[0] - 5 and after[1] >= before[1] - 5, (before, after)
