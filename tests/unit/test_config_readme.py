"""config/README.md's parameter table is made from the schema (workflow/schemas/config.schema.yaml)
by ``samebits.config.schema.parameter_table`` and written by tools/config_readme.py: the README
holds what the schema renders, the table has a row for every key a configuration can set, and
its defaults are the schema's. These tests only read the repository."""

from __future__ import annotations

import difflib
import importlib.util
import re

import pytest
import yaml

from samebits.config import schema
from tests.helpers import REPO

README = REPO / "config" / "README.md"


def _tool():
    spec = importlib.util.spec_from_file_location("config_readme", REPO / "tools" / "config_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


def _defaults(table: str) -> dict[str, str]:
    """Key -> its default cell, from a Markdown parameter table (a row of several keys gives
    each key its own backticked value, or the one they share)."""
    found = {}
    for line in table.splitlines()[2:]:
        key_cell, _, default_cell = (c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1])
        keys = re.findall(r"`([^`]+)`", key_cell)
        values = re.findall(r"`[^`]*`", default_cell) if len(keys) > 1 else []
        for i, key in enumerate(keys):
            found[key] = values[i] if len(values) == len(keys) else default_cell
    return found


def _resolved(node: dict) -> dict:
    while "$ref" in node:
        target = schema.schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _leaves(node: dict, key: str = ""):
    """(key, node) of every key a configuration sets a value for, at any depth: through named
    properties, maps of names (``propertyNames``: ``<name>``) and the branches of a ``oneOf``
    (a key in several branches comes once per branch). A Keras object (``$defs/keras``) is a
    value: its options are Keras', listed in keras_api.yaml, not keys of the schema."""
    if node.get("$ref") == "#/$defs/keras":
        yield key, node
        return
    node = _resolved(node)
    inner = [(f"{key}.{name}".lstrip("."), sub) for name, sub in node.get("properties", {}).items()]
    inner = [leaf for k, sub in inner for leaf in _leaves(sub, k)]
    if "propertyNames" in node:
        inner += list(_leaves(node["additionalProperties"], f"{key}.<name>"))
    inner += [leaf for branch in node.get("oneOf", []) for leaf in _leaves(branch, key) if leaf[0] != key]
    yield from inner or [(key, node)]


def test_the_readmes_table_is_what_the_schema_renders():
    shown, rendered = TOOL.table_in(README.read_text(encoding="utf-8")), schema.parameter_table()
    diff = "".join(difflib.unified_diff(shown.splitlines(True), rendered.splitlines(True), "README", "schema"))
    assert shown == rendered, (
        f"config/README.md's parameter table differs from what the schema renders: run `{TOOL.COMMAND}`\n{diff}"
    )


def test_the_table_has_a_row_for_every_key_of_the_schema():
    rows = set(_defaults(schema.parameter_table()))
    keys = {key for key, _ in _leaves(schema.schema())}
    assert not keys - rows, f"keys of the schema without a row: {sorted(keys - rows)}"
    assert not rows - keys, f"rows for no key of the schema: {sorted(rows - keys)}"
    for key in ("datasets.<name>.source", "experiments.<name>.model.hidden", "verify.rtol", "grids.<name>.vary"):
        assert key in rows
    # the walk itself: nested keys, maps of names, model types, a Keras object left whole
    assert _leaves.__doc__
    toy = {
        "properties": {
            "a": {"properties": {"b": {}, "c": {"$ref": "#/$defs/keras"}}},
            "m": {
                "propertyNames": {},
                "additionalProperties": {"oneOf": [{"properties": {"x": {}}}, {"type": "null"}]},
            },
        }
    }
    assert [k for k, _ in _leaves(toy)] == ["a.b", "a.c", "m.<name>.x"]


@pytest.mark.parametrize(
    "key",
    [
        "determinism.profile",
        "determinism.threads",
        "determinism.op_determinism",
        "verify.rtol",
        "verify.atol",
        "output_dir",
    ],
)
def test_a_sections_default_is_the_schemas(key):
    cell = _defaults(schema.parameter_table())[key]
    value = yaml.safe_load(cell.strip("`"))
    assert value == schema.default(*key.split(".")) and type(value) is type(schema.default(*key.split(".")))


def test_every_default_shown_reads_back_as_the_schemas():
    cells = _defaults(schema.parameter_table())
    nodes: dict[str, list[dict]] = {}
    for key, node in _leaves(schema.schema()):
        nodes.setdefault(key, []).append(node)
    for key, found in nodes.items():
        defaults = [yaml.safe_dump(n["default"]) for n in found if "default" in n]
        if len(defaults) == len(found) and len(set(defaults)) == 1:
            assert cells[key].startswith("`") and yaml.safe_load(cells[key].strip("`")) == found[0]["default"], key
        elif not defaults:
            assert cells[key] in ("required", "—") or re.fullmatch(r"required for `\w+`", cells[key]), key
    assert cells["seeds"] == cells["experiments.<name>.train.epochs"] == "required"
    assert cells["experiments.<name>.model.builder"] == "required for `custom`"
    assert cells["experiments.<name>.model.hidden"] == "`[64]`"
    assert cells["verify.rtol"] == "`1.0e-5`"


def test_the_tool_rewrites_only_the_table():
    readme = f"# title\n\nbefore\n\n{TOOL.BEGIN}\n\n| old |\n\n{TOOL.END}\n\nafter\n"
    table = "| key | meaning | default |\n|---|---|---|\n"
    written = TOOL.with_table(readme, table)
    assert written == readme.replace("| old |", table.strip("\n"))
    assert TOOL.table_in(written) == table and TOOL.with_table(written, table) == written
    with pytest.raises(ValueError, match="end of parameter table"):
        TOOL.table_in(readme.replace(TOOL.END, ""))
