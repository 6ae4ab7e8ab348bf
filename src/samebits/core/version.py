"""Which samebits this is.

The version is written here and nowhere else: the package metadata (``pyproject.toml`` reads
it), ``samebits --version``, the environment of every record, and the workflow's check that it
runs the library of its own release all take it from here. A release is the git tag
``v<version>`` (README "Versions"); a workflow deployed as a module at that tag reads this
file of the tag and refuses to run with any other installed library (:func:`check_library`).
"""

from __future__ import annotations

import ast
from pathlib import Path

from .errors import ConfigError

__all__ = ["__version__", "declared", "check_library"]

__version__ = "0.1.0"


def declared(source: str, *, name: str = "version.py") -> str:
    """The ``__version__`` a copy of this file declares.

    >>> declared('__version__ = "1.2.3"\\n')
    '1.2.3'
    """
    for node in ast.parse(source, filename=name).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
    raise ConfigError(f"{name}: no __version__ = '...' found; it is not samebits' core/version.py")


def check_library(workflow_version_file: str | Path) -> str:
    """Refuse to run the workflow with a samebits library of another release than its own.

    ``workflow_version_file`` is the workflow's own copy of this file (``src/samebits/core/
    version.py`` beside its ``workflow/``: in a clone, or in the module at the tag it was
    deployed at). The rules' steps import the installed library, so a module at tag v0.2.0
    with library 0.1.0 installed would run 0.1.0's code under 0.2.0's rules. Returns the version.
    """
    path = Path(workflow_version_file)
    wanted = declared(path.read_text(encoding="utf-8"), name=str(workflow_version_file))
    if wanted != __version__:
        raise ConfigError(
            f"this workflow is samebits {wanted} but the installed samebits library is {__version__} "
            f"({Path(__file__).resolve().parents[1]}): install the library of the workflow's release, "
            f"e.g. pip install 'samebits @ git+<the workflow's repository>@v{wanted}' "
            f"(README 'Use it in your paper's repository')"
        )
    return wanted
