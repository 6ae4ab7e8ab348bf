"""One master seed, named sub-seeds derived from it.

Every random choice in samebits (split, initializers, dropout, shuffle, augmentation) takes
its own seed, derived from the experiment's master seed and a stable name with SHA-256.
Deriving by name (instead of drawing seeds in sequence) means adding a layer or a new use
of randomness never shifts the seeds of the others, and a derived seed is the same in every
process, unlike ``hash(str)`` which depends on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib

__all__ = ["SeedSource", "derive", "check_seed"]

#: Largest seed accepted (TensorFlow and NumPy both take unsigned 32-bit seeds).
MAX_SEED = 2**32 - 1


def check_seed(seed: object, what: str = "seed") -> int:
    """Return ``seed`` if it is a non-negative integer that fits 32 bits, else raise.

    ``None`` is rejected on purpose: scikit-learn and NumPy turn ``None`` into global,
    clock-seeded state, which is the one thing a reproducible run must never use.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"{what} must be an integer in [0, {MAX_SEED}], got {seed!r} ({type(seed).__name__})")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{what} must be an integer in [0, {MAX_SEED}], got {seed}")
    return seed


def derive(master: int, name: str) -> int:
    """Derive a 31-bit sub-seed from a master seed and a name.

    31 bits keep the value valid for every consumer (Keras initializers pass seeds through
    int32 paths in places).

    Examples
    --------
    >>> derive(0, "split") == derive(0, "split")
    True
    >>> derive(0, "split") != derive(1, "split")
    True
    """
    check_seed(master, "master seed")
    if not name:
        raise ValueError("a sub-seed needs a non-empty name")
    digest = hashlib.sha256(f"samebits-seed-v1\0{master}\0{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class SeedSource:
    """Hands out named sub-seeds of one master seed and remembers which were taken.

    The record of a step carries :attr:`taken`, so a reader can see every seed that was used.

    Examples
    --------
    >>> s = SeedSource(7)
    >>> s("dense_1/kernel") == derive(7, "dense_1/kernel")
    True
    >>> sorted(s.taken)
    ['dense_1/kernel']
    """

    def __init__(self, master: int):
        self.master = check_seed(master, "master seed")
        self.taken: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        seed = derive(self.master, name)
        self.taken[name] = seed
        return seed
