"""Configuration: a TOML file, checked as a whole before anything starts."""

from .load import ConfigError, default_text, load, load_default, parse
from .schema import Config, GlobalConfig, NeighborConfig

__all__ = ["Config", "ConfigError", "GlobalConfig", "NeighborConfig", "default_text", "load", "load_default", "parse"]
