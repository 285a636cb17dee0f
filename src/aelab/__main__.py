"""``python -m aelab``: the same as the ``aelab`` command."""

from aelab.cli import main

main()
