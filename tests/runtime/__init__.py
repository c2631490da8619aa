"""Tests for workbench.runtime."""
