"""``python -m pyspeaker``: the same as the ``pyspeaker`` command."""

from .cli import main

raise SystemExit(main())
