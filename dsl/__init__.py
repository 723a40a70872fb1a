"""The coreswitch flow language: grammar, parser, AST, checker, compiler and IR.

Pure: no I/O beyond reading source text handed to it, and no import of ``coreswitch``.
"""
