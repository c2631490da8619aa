"""Tests for workbench.share."""
