"""The test suite: one folder per package; the pure tier runs with -m "not model and not gui"."""
