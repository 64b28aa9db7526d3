"""DAIRA's Postgres backend (ENGINE "daira.lib.pgbackend"): see base.py."""
