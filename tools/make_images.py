"""Make a folder of generated images, one subfolder per class, from a seed.

Each image is a noisy background with one filled shape of its class (``circle``,
``square``, ``triangle``, …) at a random place, size and colour: easy enough for a small CNN
to learn in a few epochs, and the same files, byte for byte, from the same arguments.
The tests, the benchmark and the example data (``data/shapes/``) are made with it::

    python tools/make_images.py data/shapes/ --per-class 60 --size 32 32
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")


def _draw(kind: str, rng: np.random.Generator, h: int, w: int, channels: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    r = rng.uniform(0.15, 0.3) * min(h, w)
    if kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    elif kind == "square":
        mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
    elif kind == "triangle":
        mask = (yy - cy <= r) & (yy - cy >= -r) & (abs(xx - cx) <= (yy - cy + r) / 2)
    else:
        mask = ((abs(yy - cy) <= r / 3) & (abs(xx - cx) <= r)) | ((abs(xx - cx) <= r / 3) & (abs(yy - cy) <= r))
    background = rng.integers(0, 90, size=(h, w, channels))
    colour = rng.integers(140, 256, size=channels)
    pixels = np.where(mask[..., None], colour, background)
    return pixels.astype(np.uint8)


def make(
    root: str | Path,
    *,
    per_class: int,
    size: tuple[int, int] = (32, 32),
    channels: int = 3,
    classes: int = 2,
    seed: int = 0,
    jpeg_every: int = 0,
) -> list[Path]:
    """Write ``per_class`` images of each of the first ``classes`` shapes under ``root``
    (``root/<shape>/<shape>_<i>.png``; every ``jpeg_every``-th one a JPEG instead). Returns
    the files written."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    written = []
    for kind in SHAPES[:classes]:
        folder = Path(root) / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = _draw(kind, rng, size[0], size[1], channels)
            img = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode="L" if channels == 1 else "RGB")
            jpeg = jpeg_every and i % jpeg_every == jpeg_every - 1
            path = folder / f"{kind}_{i:05d}.{'jpg' if jpeg else 'png'}"
            if jpeg:
                img.save(path, quality=90)
            else:
                img.save(path, optimize=False, compress_level=1)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="the folder to write (its class subfolders are made)")
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--size", type=int, nargs=2, default=(32, 32), metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--channels", type=int, choices=(1, 3), default=3)
    parser.add_argument("--classes", type=int, choices=range(2, len(SHAPES) + 1), default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jpeg-every", type=int, default=0, help="every k-th image a JPEG (0: none)")
    args = parser.parse_args()
    files = make(
        args.root,
        per_class=args.per_class,
        size=tuple(args.size),
        channels=args.channels,
        classes=args.classes,
        seed=args.seed,
        jpeg_every=args.jpeg_every,
    )
    print(f"{len(files)} images in {args.root}")


if __name__ == "__main__":
    main()
