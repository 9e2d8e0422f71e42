"""``python -m flows.cli``: the ``seqflow`` command without its script."""

from flows.cli import main

main()
