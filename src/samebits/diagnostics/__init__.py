"""Tools that look at runs from outside: ``samebits diff`` (two result trees), ``audit`` (one
chain rerun under variations), ``portability`` and ``lint`` (which ops travel between CPUs),
and the CPU emulation they use.

May import every other layer; nothing imports it but the command line.
"""
