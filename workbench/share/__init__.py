"""Sharing prompts with other tools: exporters and importers, one function per format."""
