"""A data folder's content: which files, in which order, its checksum, what changed, and
the stamp that moves when any file is touched (samebits.core.folders)."""

import os

import pytest

from samebits.core import folders
from samebits.core.errors import DataError


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for rel, text in {
        "pets/dog/b.png": "b",
        "pets/dog/a.png": "a",
        "pets/cat/z.png": "z",
        "pets/cat/deeper/y.png": "y",
        "pets/cat/.DS_Store": "mac",
        "pets/.hidden/x.png": "x",
        "pets/README.md": "top-level",
    }.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pets"


def test_files_are_class_by_class_in_sorted_order_without_hidden_or_top_level_files(tree):
    assert folders.files("pets") == [
        ("cat", "cat/deeper/y.png"),
        ("cat", "cat/z.png"),
        ("dog", "dog/a.png"),
        ("dog", "dog/b.png"),
    ]
    assert folders.is_folder("pets") and folders.is_folder("nowhere/") and not folders.is_folder("pets.csv")
    with pytest.raises(DataError, match="nowhere: no such folder"):
        folders.files("nowhere")


def test_the_checksum_moves_with_any_content_and_the_changes_are_named(tree):
    first = folders.content("pets")
    assert first.changed == [] and len(first) == 4
    (tree / "README.md").write_text("edited")  # not part of the content
    (tree / "cat" / ".DS_Store").write_text("edited")
    assert folders.content("pets").checksum == first.checksum

    st = os.stat(tree / "dog" / "a.png")
    (tree / "dog" / "a.png").write_text("A")  # same size, mtime put back
    os.utime(tree / "dog" / "a.png", ns=(st.st_atime_ns, st.st_mtime_ns))
    (tree / "dog" / "c.png").write_text("c")
    (tree / "cat" / "z.png").unlink()
    peek = folders.content("pets", update=False)
    assert [str(c) for c in peek.changed] == [
        "cat/z.png removed",
        f"dog/a.png sha256 {first.sha256[2][:12]}… → {peek.sha256[1][:12]}…",
        "dog/c.png added",
    ]
    again = folders.content("pets")
    assert again.checksum == peek.checksum != first.checksum and len(again.changed) == 3
    assert folders.content("pets").changed == []  # the cache now holds the new checksums


def test_a_rename_changes_the_checksum(tree):
    before = folders.content("pets").checksum
    os.rename(tree / "dog" / "b.png", tree / "dog" / "bb.png")
    assert folders.content("pets").checksum != before


def test_the_stamp_moves_when_a_file_is_edited_with_its_mtime_put_back(tree):
    before = folders.stamp("pets")
    assert folders.stamp("pets") == before
    path = tree / "dog" / "b.png"
    st = os.stat(path)
    path.write_text("B")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert folders.stamp("pets") != before
