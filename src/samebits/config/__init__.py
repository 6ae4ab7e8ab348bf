"""The user's configuration: its schema (every key, default and choice), the checks a schema
cannot say clearly, experiment grids, and the cache of a checked configuration.

Imports ``core`` and, for the checks of data sources and model builders, ``ml``.
"""
