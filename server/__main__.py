"""`python -m server [--root DIR]` serves over stdio, like `project-memory serve`; any subcommand also works."""

import sys

from server.cli import main

_args = sys.argv[1:]
if not _args or (_args[0].startswith("-") and _args[0] not in ("-h", "--help", "--version")):
    _args = ["serve", *_args]
main(args=_args, prog_name="python -m server")
