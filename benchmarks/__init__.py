"""Benchmarks for pyspeaker: a deterministic BGP corpus and competing codecs."""
