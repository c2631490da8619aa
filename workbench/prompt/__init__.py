"""Prompt documents: sections, variables and examples, their versions, composition, URIAL."""
