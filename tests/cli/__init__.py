"""Tests for workbench.cli."""
