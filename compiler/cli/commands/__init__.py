"""One module per kgit command: ``add_arguments(parser)`` and ``run(args) -> int``."""
