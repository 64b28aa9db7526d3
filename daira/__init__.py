"""DAIRA project package (wiring only)."""
