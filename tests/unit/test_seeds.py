import subprocess
import sys

import pytest

from samebits.core.seeds import SeedSource, check_seed, derive


def test_derived_seeds_are_stable_across_processes_and_hash_seeds():
    code = "from samebits.core.seeds import derive; print(derive(3, 'dense_1/kernel'))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], env={"PYTHONHASHSEED": hs}, capture_output=True, text=True, check=True
        ).stdout.strip()
        for hs in ("0", "1", "random")
    }
    assert outs == {str(derive(3, "dense_1/kernel"))}


def test_derived_seeds_differ_by_name_and_master_and_fit_31_bits():
    seeds = {derive(m, n) for m in range(5) for n in ("split", "shuffle", "dense_1/kernel")}
    assert len(seeds) == 15
    assert all(0 <= s < 2**31 for s in seeds)


@pytest.mark.parametrize("bad", [None, -1, 2**32, 1.0, "1", True])
def test_check_seed_rejects_what_is_not_a_fixed_seed(bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        check_seed(bad)


def test_seed_source_remembers_what_it_handed_out():
    s = SeedSource(1)
    a = s("a")
    assert s.taken == {"a": a} and s("a") == a
