"""The command line: ``cnnlab train``, ``cnnlab grade``, ``cnnlab exercises`` (``--check``: the
course's one check of every notebook, docs/authoring.md)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnnlab", description="cnnlab: an interactive course on convolutional neural networks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from cnnlab import exercises, grade, train  # each module adds its own sub-command

    train.add_cli(sub)
    grade.add_cli(sub)
    exercises.add_cli(sub)

    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
