"""Command line interface: one module per subcommand, each thin over the engine.

A subcommand module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; :mod:`workbench.cli.main` discovers them, so adding a
subcommand means adding one module.
"""
