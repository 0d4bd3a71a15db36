"""Coregistration engine (Qt-free)."""
