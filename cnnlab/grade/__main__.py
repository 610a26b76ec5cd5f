"""``python -m cnnlab.grade``: the same as ``cnnlab grade`` (and the grader's child process)."""
import sys

from cnnlab.grade.cli import main

sys.exit(main())
