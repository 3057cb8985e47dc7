"""pyspeaker: a pure-Python asyncio BGP speaker with graceful restart."""

__version__ = "0.1.0"
