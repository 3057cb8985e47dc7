"""Codecs measured against pyspeaker: competing libraries and the pure-Python floor."""
