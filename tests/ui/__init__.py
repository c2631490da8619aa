"""Tests for workbench.ui."""
