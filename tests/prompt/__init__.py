"""Tests for workbench.prompt."""
