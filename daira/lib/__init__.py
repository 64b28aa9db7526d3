"""Helpers every DAIRA app may import. Nothing here imports an app."""
