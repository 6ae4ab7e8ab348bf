"""Figure 5: canonical hashing of 1 GiB of arrays vs ``hashlib.sha256`` of the same bytes;
verify over 1,000 step records (timed by figure 6, on the records it makes)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from bench.figures.f06_scale import VerifyTiming
from bench.harness import Figure, alternate, say
from bench.schedule import Need, Result
from bench.settings import Settings

NUMBER = 5
# Figure 6's `samebits verify --check` over its sweep's records: 6 then measures before 5;
# without figure 6, this figure leaves verify out.
NEEDS: tuple[Need, ...] = (Need("verify_timing", optional=True),)
PROVIDES: tuple[str, ...] = ()


def measure(s: Settings, root: Path, *, verify_timing: VerifyTiming | None) -> Result:
    import numpy as np

    from samebits.core import hashing

    say(f"figure 5: canonical hashing of {s.hash_bytes >> 20} MiB of arrays vs hashlib.sha256")
    rng = np.random.default_rng(0)
    n = s.hash_bytes // 4 // 4
    arrays = {f"w{i}": rng.standard_normal(n, dtype=np.float32) for i in range(4)}

    def raw() -> float:
        t = time.perf_counter()
        h = hashlib.sha256()
        for name in sorted(arrays):
            h.update(memoryview(arrays[name]).cast("B"))
        h.hexdigest()
        return time.perf_counter() - t

    def canonical() -> float:
        t = time.perf_counter()
        hashing.hash_arrays(arrays)
        return time.perf_counter() - t

    path = root / "hash.npz"
    np.savez(path, **arrays)

    def raw_file() -> float:
        t = time.perf_counter()
        hashing.hash_file(path)
        return time.perf_counter() - t

    def canonical_file() -> float:
        t = time.perf_counter()
        hashing.hash_npz(path)
        return time.perf_counter() - t

    mem = alternate(s.reps, raw=raw, canonical=canonical)
    disk = alternate(s.reps, raw=raw_file, canonical=canonical_file)
    path.unlink()
    r_mem = mem["raw"].median / mem["canonical"].median
    r_disk = disk["raw"].median / disk["canonical"].median
    gib = s.hash_bytes / (1 << 30)
    details = [
        f"in memory: hashlib.sha256 {mem['raw'].text()}; canonical checksum with summaries {mem['canonical'].text()}"
        f" → {gib / mem['canonical'].median:.2f} GiB/s",
        f"from an .npz file (page cache): sha256 of the file {disk['raw'].text()}; canonical, streamed "
        f"{disk['canonical'].text()} → speed ratio {r_disk:.2f}×",
    ]
    met = r_mem >= 0.9
    measured = f"{r_mem:.2f}× hashlib's speed"
    if verify_timing is not None:
        details.append(
            f"`samebits verify --check` over {verify_timing.records} step records: {verify_timing.timing.text()}"
        )
        met = met and verify_timing.timing.median < 1.0
        measured += f"; verify {verify_timing.timing.median:.2f} s"
    figure = Figure(NUMBER, "Checksums: canonical hashing vs hashlib.sha256; verify over 1,000 records", measured,
                    "≥ 0.9×; verify < 1 s", met, details)  # fmt: skip
    return Result(figure)
