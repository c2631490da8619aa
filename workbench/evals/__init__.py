"""Evaluations: task sets with checks, and learning from their failures."""
