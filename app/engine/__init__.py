"""The readiness engine: pure functions over plain data, with no I/O and no framework imports.

Domain services load what the engine needs, call it, and store what it returns.
"""
