"""Tests for workbench.notebook."""
