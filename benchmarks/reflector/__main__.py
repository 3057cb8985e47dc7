"""``python -m benchmarks.reflector``: see :mod:`benchmarks.reflector.run`."""

from .run import main

raise SystemExit(main())
