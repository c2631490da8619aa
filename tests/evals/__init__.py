"""Tests for workbench.evals."""
