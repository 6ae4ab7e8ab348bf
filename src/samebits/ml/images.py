"""Image folders: decoded once into a cache of pixels, read back a row at a time.

A data set whose ``source`` is a folder (``data/shapes/``) holds one subfolder per class;
its samples are the image files in them (:mod:`samebits.core.folders` says which files, in
which order, and how the folder is checksummed). The class names, sorted, are the labels
0, 1, …

Each image is decoded by Pillow, converted to ``image.channels`` (1: ``L``, 3: ``RGB``;
alpha is dropped) and resized to ``image.size`` with ``image.resize`` (Pillow's fixed-point
filters, the same bits on every CPU; a PNG is lossless, a JPEG's pixels are libjpeg-turbo's).
Without ``channels`` or ``size`` every image must already agree on them. Images with 16 bits
per channel (or floating-point pixels) are refused, whatever mode Pillow opens them in; so is
an entry of a class folder that is neither an image file nor a folder (a dangling link, a
named pipe), which is never opened. Pillow and its
libjpeg-turbo and zlib versions are in every record's environment
(:func:`samebits.provenance.fingerprint.decoder`), since
another decoder may give other pixels.

The decoded pixels (uint8, ``(n, height, width, channels)``) go into one file under
:data:`samebits.core.layout.IMAGE_CACHE`, named by the data set's checksum and the decoder:
split makes it while it checks every image, and train and evaluate read rows from it (all
of them, or a batch at a time when streaming) or make it again when it is missing. The cache
is trusted while its size, mtime and ctime are what were recorded beside it; otherwise it is
hashed again and remade unless its SHA-256 matches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..core import fileio, folders, layout
from ..core.errors import DataError
from ..provenance.fingerprint import decoder
from .rows import Rows, cached, file_stat, locked, prune

__all__ = ["RESIZE", "Images", "Rows", "load", "peek", "settings"]

log = logging.getLogger(__name__)

#: ``image.resize`` choices: Pillow's filters (``area`` is Pillow's ``BOX``, an average over
#: each output pixel's area). The config schema lists the same names.
RESIZE = ("bilinear", "nearest", "bicubic", "lanczos", "area", "hamming")
_PILLOW_FILTER = {"bilinear": "BILINEAR", "nearest": "NEAREST", "bicubic": "BICUBIC", "lanczos": "LANCZOS",
                  "area": "BOX", "hamming": "HAMMING"}  # fmt: skip

#: Pillow modes by the channels they decode to; others (16-bit, float) are refused.
_CHANNELS = {"1": 1, "L": 1, "LA": 1, "P": 3, "PA": 3, "RGB": 3, "RGBA": 3, "RGBX": 3, "CMYK": 3, "YCbCr": 3,
             "LAB": 3, "HSV": 3}  # fmt: skip
#: How a file stores 16 bits per channel that Pillow opens in an 8-bit mode (a 16-bit RGB,
#: RGBA or gray+alpha PNG, TIFF or SGI opens as RGB or RGBA): ``RGB;16B``, ``LA;16B``, …
#: (``BGR;16`` is BMP's 5-6-5 packing, 8 bits or fewer per channel).
_SIXTEEN_BITS = re.compile(r"(?!BGR)[A-Za-z]+;16[BLN]?")

_TAG = b"samebits-images-v1\0"
_FORMAT = 1


def settings(image: dict[str, Any] | None) -> dict[str, Any]:
    """The decode settings as they enter the checksum: size ``[h, w]`` or None, channels or
    None, resize."""
    image = image or {}
    size = image.get("size")
    return {
        "size": None if size is None else [int(size[0]), int(size[1])],
        "channels": image.get("channels"),
        "resize": image.get("resize", "bilinear"),
    }


@dataclasses.dataclass(frozen=True)
class Images:
    """An image folder, decoded."""

    rows: Rows  #: the pixels, uint8 (n, height, width, channels)
    labels: np.ndarray  #: int64, the class index of each image
    classes: list[str]  #: the class names, sorted
    checksum: str  #: the data set's: the folder's content and the decode settings
    content: folders.Content
    pixels_sha256: str  #: of the decoded pixels, as the cache holds them


def _checksum(content: folders.Content, image: dict[str, Any]) -> str:
    doc = json.dumps({"folder": content.checksum, "image": image}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(_TAG + doc.encode()).hexdigest()


def _classes(root: Path, content: folders.Content) -> list[str]:
    """The class subfolders; each must hold an image, and there must be two or more."""
    subfolders = sorted(e.name for e in os.scandir(root) if not e.name.startswith(".") and e.is_dir())
    if not subfolders:
        loose = sorted(e.name for e in os.scandir(root) if e.is_file() and not e.name.startswith("."))[:3]
        found = f"; found only files ({', '.join(loose)})" if loose else ""
        raise DataError(
            f"{root}: no class subfolders{found}; an image data set holds one subfolder per class, "
            "e.g. {root}/cat/1.png, {root}/dog/1.png".replace("{root}", str(root).rstrip("/"))
        )
    present = set(content.classes)
    for name in subfolders:
        if name not in present:
            raise DataError(f"{root / name}: the class folder is empty; every class folder needs at least one image")
    if len(subfolders) < 2:
        raise DataError(
            f"{root}: only one class folder ({subfolders[0]!r}); classification needs two or more subfolders"
        )
    return subfolders


def _decode(path: Path, image: dict[str, Any], first: dict[str, Any]) -> np.ndarray:
    """One image as uint8 ``(h, w, c)``; ``first`` holds the first image's size and channels
    (filled by the first call) for the checks when ``size`` or ``channels`` is not set."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            deep = _sixteen_bits(im)  # before load(), which decodes them to 8 bits
            im.load()
            mode = deep or im.mode
            if mode not in _CHANNELS:
                raise DataError(
                    f"{path}: mode {mode} (16-bit or floating-point pixels) is not read; "
                    "store 8-bit grayscale or RGB images"
                )
            channels = image["channels"] or _CHANNELS[mode]
            if image["channels"] is None:
                seen = first.setdefault("channels", (channels, path))
                if seen[0] != channels:
                    raise DataError(
                        f"{path}: {channels} channel(s) (mode {mode}), but {seen[1]} has {seen[0]}; "
                        "set image.channels (1 or 3) of the data set to convert every image"
                    )
            converted = im.convert("L" if channels == 1 else "RGB")
            h, w = converted.height, converted.width
            if image["size"] is None:
                seen = first.setdefault("size", ((h, w), path))
                if seen[0] != (h, w):
                    raise DataError(
                        f"{path}: {h}x{w} pixels (height x width), but {seen[1]} is "
                        f"{seen[0][0]}x{seen[0][1]}; "
                        "set image.size: [height, width] of the data set to resize every image"
                    )
            else:
                th, tw = image["size"]
                if (h, w) != (th, tw):
                    converted = converted.resize(
                        (tw, th), resample=getattr(Image.Resampling, _PILLOW_FILTER[image["resize"]])
                    )
            return np.asarray(converted, dtype=np.uint8).reshape(converted.height, converted.width, channels)
    except UnidentifiedImageError:
        raise DataError(
            f"{path}: not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP, …), or cut short "
            "before its header ends; a class folder holds only images"
        ) from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: cannot be decoded ({exc}); is the file truncated or damaged?") from None


def _sixteen_bits(im: Any) -> str | None:
    """How the file stores its pixels when it has 16 bits per channel that Pillow opens in an
    8-bit mode and would cut to 8 bits (``RGB;16B``; a PPM with a maxval over 255 is named
    ``RGB;16B`` too), else None: such images are refused like 16-bit grayscale (``I;16``)."""
    if im.mode not in _CHANNELS:
        return None  # refused by its mode already (I;16, F, …)
    for tile in im.tile:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        raw = args[0] if args and isinstance(args[0], str) else ""
        if _SIXTEEN_BITS.fullmatch(raw):
            return raw
        if tile.codec_name == "ppm" and len(args) > 1 and isinstance(args[1], int) and args[1] > 255:
            return f"{im.mode};16B"
    return None


def _check_entries(root: Path) -> None:
    """Raise :class:`DataError` for an entry of a class folder that is neither a folder nor
    a regular file (a dangling link, a link loop, a named pipe, a socket, a device) or a link
    to a folder: :func:`samebits.core.folders.files` would leave it out without a word. Never
    opens one (a named pipe would block)."""

    def refuse(error: OSError) -> NoReturn:
        raise DataError(f"{error.filename}: cannot be read ({error.strerror}); a class folder must be readable")

    for top in sorted(os.scandir(root), key=lambda e: e.name):
        if top.name.startswith("."):
            continue
        if top.is_symlink() and not os.path.exists(top.path):  # may be a class folder whose link broke
            raise DataError(f"{top.path}: {_not_regular(top.path)}; {_ACCEPTED}")
        if not top.is_dir():
            continue  # a top-level file (a README) is not part of the data
        for here, dirs, names in os.walk(top.path, onerror=refuse):
            dirs.sort()
            for d in dirs:
                if not d.startswith(".") and os.path.islink(os.path.join(here, d)):
                    raise DataError(
                        f"{os.path.join(here, d)}: a symbolic link to a folder, which is not followed inside a "
                        f"class folder; {_ACCEPTED}"
                    )
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for n in sorted(names):
                full = os.path.join(here, n)
                if not n.startswith(".") and not os.path.isfile(full):
                    raise DataError(f"{full}: {_not_regular(full)}; {_ACCEPTED}")


_ACCEPTED = "a class folder holds image files (or links to them) and folders of them"


def _not_regular(path: str) -> str:
    """What a path that is not a regular file is, found by stat alone."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if os.path.islink(path):
            target = os.readlink(path)
            if exc.errno == errno.ELOOP:
                return f"a symbolic link loop (to {target})"
            return f"a symbolic link to {target}, which does not exist"
        return f"cannot be read ({exc.strerror})"
    kinds = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device")]  # fmt: skip
    return next((text for test, text in kinds if test(mode)), "not a regular file") + ", not an image file"


def _cache_files(checksum: str) -> tuple[Path, Path]:
    key = hashlib.sha256(json.dumps([checksum, decoder()], sort_keys=True).encode()).hexdigest()[:16]
    base = Path(layout.IMAGE_CACHE)
    return base / f"{key}.u8", base / f"{key}.json"


def _build(content: folders.Content, image: dict[str, Any], pixels: Path, meta_path: Path, checksum: str) -> dict:
    """Decode every image in order into ``pixels`` (atomically), checking each."""
    root = Path(content.root)
    first: dict[str, Any] = {}
    n = len(content)
    h = hashlib.sha256()
    shape = None
    step = max(1, n // 10)
    with fileio.atomic_path(pixels) as tmp, open(tmp, "wb") as out:
        for i, rel in enumerate(content.paths):
            rows = _decode(root / rel, image, first)
            if shape is None:
                shape = rows.shape
            elif rows.shape != shape:  # channels set, size not: the check above covers size
                raise DataError(f"{root / rel}: decodes to {rows.shape}, the images before it to {shape}")
            data = rows.tobytes()
            h.update(data)
            out.write(data)
            if (i + 1) % step == 0 and n >= 1000:
                log.info("decoded %d of %d images", i + 1, n)
        out.flush()
    assert shape is not None  # content has at least one image: _classes checked it
    meta = {
        "format": _FORMAT,
        "root": str(root),
        "image": image,
        "dataset": checksum,
        "n": n,
        "shape": list(shape),
        "sha256": h.hexdigest(),
        "decoder": decoder(),
        "stat": file_stat(pixels),
    }
    fileio.write_text(meta_path, json.dumps(meta))
    for other in prune(pixels, {"root": meta["root"], "image": meta["image"]}, (".u8",)):
        log.info("removed %s: the decoded pixels of an earlier content of %s", other.with_suffix(".u8"), meta["root"])
    return meta


def peek(source: str, image: dict[str, Any] | None) -> tuple[tuple[int, ...], list[str]]:
    """The shape of one decoded image and the class names, from the folder's listing and its
    first image only (no hashing, no cache): for what needs only the model's input."""
    root = Path(source)
    listing = folders.files(root)
    _check_entries(root)
    if not listing:
        raise DataError(f"{root}: no images in class subfolders")
    return _decode(root / listing[0][1], settings(image), {}).shape, sorted({cls for cls, _ in listing})


def load(
    name: str, source: str, image: dict[str, Any] | None, *, check: Callable[[list[str]], None] | None = None
) -> Images:
    """The image folder ``source`` of data set ``name``, decoded (from the cache when it holds
    this data set, else now). Raises :class:`DataError` naming the file for bad data.
    ``check`` sees the class names before any image is decoded, so what it refuses leaves
    no cache behind."""
    root = Path(source)
    if not root.is_dir():
        raise DataError(f"data set {name!r}: folder {source} does not exist")
    image = settings(image)
    _check_entries(root)
    content = folders.content(root)
    classes = _classes(root, content)
    if check is not None:
        check(classes)
    checksum = _checksum(content, image)
    if content.changed:
        shown = "; ".join(map(str, content.changed[:5]))
        more = f"; and {len(content.changed) - 5} more" if len(content.changed) > 5 else ""
        log.info(
            "%s: %d file(s) differ from when this folder was last read: %s%s", source, len(content.changed), shown, more
        )
    pixels, meta_path = _cache_files(checksum)
    want = {"format": _FORMAT, "dataset": checksum}
    meta = cached(pixels, meta_path, want)
    if meta is None:
        made = [p for p in (Path(layout.IMAGE_CACHE), *Path(layout.IMAGE_CACHE).parents) if not p.exists()]
        pixels.parent.mkdir(parents=True, exist_ok=True)
        try:
            with locked(pixels.parent):
                meta = cached(pixels, meta_path, want)  # made by another job meanwhile?
                if meta is None:
                    log.info("decoding %d images of %s into %s", len(content), source, pixels)
                    meta = _build(content, image, pixels, meta_path, checksum)
        except DataError:
            for folder in made:  # bad data: leave no trace in results/
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
    index = {cls: i for i, cls in enumerate(classes)}
    return Images(
        rows=Rows(pixels, meta["n"], tuple(meta["shape"])),
        labels=np.asarray([index[c] for c in content.classes], dtype=np.int64),
        classes=classes,
        checksum=checksum,
        content=content,
        pixels_sha256=meta["sha256"],
    )
