"""Prompt Workbench: write and tune system prompts for local GGUF models."""

__version__ = "0.1.0"
