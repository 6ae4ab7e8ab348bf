"""The host records (samebits.diagnostics.hosts): names, comparison, and a bad record refused."""

from __future__ import annotations

import json

import pytest

from samebits.core.errors import SamebitsError
from samebits.diagnostics import hosts


def test_a_record_is_named_by_vendor_family_model_and_level():
    host = {"vendor": "GenuineIntel", "family": 6, "model": 167, "isa": "AVX512_CORE_BF16"}
    assert hosts.file_name(host) == "genuineintel-6-167-avx512_core_bf16.json"
    assert hosts.file_name({"vendor": None, "family": None, "model": None, "isa": None}) == (
        "unknown-none-none-unknown.json"
    )


def test_this_host_is_identified_with_its_vector_flags():
    found = hosts.host_identity()
    assert set(found) == {"vendor", "model_name", "family", "model", "isa", "simd_flags"}
    assert all(flag.startswith(("sse", "avx", "fma", "f16c", "amx")) for flag in found["simd_flags"])


def test_comparison_sorts_each_case_into_identical_different_and_missing():
    mine = {"a": "sha256:1", "b": "sha256:2", "c": "sha256:3"}
    theirs = {"x.json": {"host": {}, "cases": {"a": "sha256:1", "b": "sha256:9", "d": "sha256:4"}}}
    assert hosts.compare(mine, theirs) == {
        "x.json": {"identical": ["a"], "different": ["b"], "not_recorded": ["c"], "not_run_here": ["d"]}
    }


def test_the_committed_records_are_records_and_this_kind_of_host_has_one_named_correctly():
    found = hosts.read_hosts()
    assert "genuineintel-6-167-avx512_core_bf16.json" in found  # measured natively on an Intel Xeon
    for name, record in found.items():
        assert hosts.file_name(record["host"]) == name
        assert all(v.startswith("sha256:") for v in record["cases"].values())


@pytest.mark.parametrize(
    "text, why",
    [("{", "not a readable host record"), ('{"cases": []}', "not a host record (it needs 'host' and a 'cases'")],
)
def test_a_broken_record_is_refused_with_its_path(tmp_path, text, why):
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(SamebitsError, match=r"bad\.json: ") as info:
        hosts.read_hosts(tmp_path)
    assert why in str(info.value)


def test_a_written_record_reads_back_under_its_name(tmp_path):
    record = {"host": {"vendor": "AuthenticAMD", "family": 25, "model": 1, "isa": "AVX2"}, "cases": {"a": "sha256:1"}}
    path = hosts.write(record, tmp_path)
    assert path.name == "authenticamd-25-1-avx2.json"
    assert hosts.read_hosts(tmp_path) == {path.name: json.loads(path.read_text())}
