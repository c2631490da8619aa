"""Tests for workbench.chat."""
