"""A page opened in a real headless browser (Debian's ``chromium``), and what it rendered.

:func:`probe` loads a copy of the page with a script added at its end; the script runs once
everything before it is parsed, forces the layout (it asks for positions) and writes what it
found, as JSON, into the page, which ``--dump-dom`` then prints. So every fact a test checks
comes from the rendered page: where an element is, what text it shows, how long the page took
from navigation start to a laid-out document.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

#: How to get the browser (.ci/run does this where it is missing).
INSTALL = "apt-get install -y --no-install-recommends chromium"

#: The first screen: a laptop's browser window.
WIDTH, HEIGHT = 1280, 800

_PROBE_ID = "samebits-probe"


def executable() -> str | None:
    return shutil.which("chromium")


def need() -> str:
    """The browser's path; skip (fail under CI, which installs it) when there is none."""
    found = executable()
    if found is None:
        if os.environ.get("SAMEBITS_CI"):
            pytest.fail(f"chromium is missing under CI, which never skips the browser tests: {INSTALL}")
        pytest.skip(f"no chromium here: install it with `{INSTALL}` (as root; .ci/run does)")
    return found


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--window-size={WIDTH},{HEIGHT}"]
    flags += ["--disable-extensions", "--disable-background-networking", "--hide-scrollbars"]
    return subprocess.run([need(), *flags, *args], capture_output=True, text=True, timeout=timeout)


def probe(page: str, script: str, workdir: Path) -> dict[str, Any]:
    """Render ``page`` (HTML text) and return what ``script`` (the body of a JavaScript
    function, returning a JSON-able value) found in it."""
    wrapped = (
        f"<script>(function(){{const found=(function(){{{script}}})();"
        f"const pre=document.createElement('pre');pre.id='{_PROBE_ID}';"
        "pre.textContent=JSON.stringify(found);document.body.appendChild(pre);})();</script>"
    )
    at = page.rindex("</body>")
    path = workdir / "page.html"
    path.write_text(page[:at] + wrapped + page[at:], encoding="utf-8")
    done = _run(["--dump-dom", path.as_uri()])
    found = re.search(rf'<pre id="{_PROBE_ID}">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium rendered no probe (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: str, out: Path, *, height: int = HEIGHT) -> None:
    """A PNG of the page's first ``height`` pixels."""
    src = out.with_suffix(".html")
    src.write_text(page, encoding="utf-8")
    done = subprocess.run(
        [need(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={WIDTH},{height}", f"--screenshot={out}", src.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    src.unlink()
    assert out.exists(), done.stderr[-3000:]
