"""Route-reflector scale benchmark: a simulator of N iBGP clients (one asyncio process)
against pyspeaker, BIRD 2, FRR and GoBGP as reflectors, each in a network namespace of its
own; their graceful restart under that load; and a full table from one client to many. See
benchmarks/README.md."""
