"""A test builder: the standard MLP, and a witness of the CPU each step's process sees.

The init, train and evaluate steps all import this module (init to build the model, train
and evaluate to deserialise it), so each appends one line to ``logs/isa_witness.txt``: its
process id, the instruction-set level its CPU reports (by CPUID, which QEMU emulates) and
its ``sys.executable``. The emulation test reads it to prove the steps really ran emulated.
"""

import os
import sys
from pathlib import Path

from samebits.ml.models import build_mlp
from samebits.provenance.cpu import isa_level

WITNESS = Path("logs/isa_witness.txt")
WITNESS.parent.mkdir(parents=True, exist_ok=True)
with WITNESS.open("a", encoding="utf-8") as _fh:
    _fh.write(f"{os.getpid()}\t{isa_level()}\t{sys.executable}\n")


def build(input_shape, n_classes, seeds, **options):
    return build_mlp(input_shape, n_classes, seeds, task="multiclass", **options)
