"""samebits portability --hosts: the probe cases run natively and compared with the committed
records of real hosts (docs/portability/hosts/), one of them an Intel Xeon measured natively."""

from __future__ import annotations

import json

import pytest

from samebits.diagnostics import hosts
from tests.helpers import REPO, samebits

pytestmark = pytest.mark.e2e

#: Cases whose kernels the profile did not change (the Intel record predates samebits.ml.exact)
#: and cases only the current probe has.
UNCHANGED = ["dense", "conv2d", "fit_mlp", "fit_cnn", "fit_lstm"]
NEW = ["fit_batchnorm", "fit_recipe_binary"]
INTEL = "genuineintel-6-167-avx512_core_bf16.json"


def test_the_cases_run_natively_match_every_real_host_and_record_this_one(tmp_path):
    cases = UNCHANGED + NEW
    proc = samebits(REPO, "portability", "--hosts", "--json", "--cases", ",".join(cases), timeout=600)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    compared = found["compared"]
    # an Intel Xeon (AVX-512, AMX) gave these bits natively; this CPU, whatever it is, gives them too
    assert compared[INTEL]["identical"] == UNCHANGED and compared[INTEL]["different"] == []
    assert compared[INTEL]["not_recorded"] == NEW
    # every record made with the profile's exact kernels agrees on every case it holds
    for name, record in hosts.read_hosts().items():
        if record["settings"].get("exact_kernels"):
            assert compared[name]["different"] == [], (name, compared[name])
            assert compared[name]["identical"] == cases, name

    proc = samebits(REPO, "portability", "--hosts", "--record", "--hosts-dir", str(tmp_path), "--cases", "dense")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"no host records in {tmp_path}: nothing to compare with")
    [written] = tmp_path.glob("*.json")
    record = json.loads(written.read_text())
    assert written.name == hosts.file_name(record["host"]) == hosts.file_name(hosts.host_identity())
    assert record["cases"] == {"dense": found["host"]["cases"]["dense"]}
    assert record["settings"] == {
        "profile": "portable",
        "threads": 1,
        "op_determinism": True,
        "exact_kernels": ["rsqrt", "reciprocal", "erfc", "gelu", "division"],
    }
    assert f"wrote this host's record {written}" in proc.stderr
