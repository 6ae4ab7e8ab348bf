"""The user's own code that a configuration names: a model builder, a trainer, a loss.

A reference is ``path/to/file.py:function`` (a file, relative to the working directory) or
``module:function`` (an importable module). :class:`CodeRef` is the one reader of that
text: it parses it, finds its source file, checks it without importing anything, loads the
function and hashes the source for a record's ``code`` section.

The user's code is code by design: it runs with the workflow's rights. It is loaded from
the given file or an importable module. A module is looked for as the workflow's jobs find
it: on the Python path, then in the working directory (Snakemake puts the workflow's folder
at the end of its jobs' path), so ``samebits lint`` and the workflow agree.

Examples
--------
>>> ref = CodeRef.parse("models/net.py:build", "experiments.cnn.model.builder")
>>> ref.module, ref.function, ref.is_file, ref.workflow_file
('models/net.py', 'build', True, 'models/net.py')
>>> str(CodeRef.parse("mypkg.nets:build"))
'mypkg.nets:build'
>>> CodeRef.named("huber") is None, CodeRef.named("losses.py:smooth").function
(True, 'smooth')
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["CodeRef"]


@contextlib.contextmanager
def _workdir_on_path() -> Iterator[None]:
    """The working directory at the end of ``sys.path`` for the duration (unless there)."""
    here = os.getcwd()
    if here in sys.path or "" in sys.path:
        yield
        return
    sys.path.append(here)
    try:
        yield
    finally:
        if here in sys.path:
            sys.path.remove(here)


@dataclasses.dataclass(frozen=True)
class CodeRef:
    """A reference to a function of the user's: ``module`` is a ``.py`` file's path or a
    dotted module name, ``function`` the function's name in it."""

    module: str
    function: str

    @classmethod
    def parse(cls, text: str, where: str = "model.builder") -> CodeRef:
        """The reference ``text``; :class:`ConfigError` naming ``where`` if it is neither
        ``module:function`` nor ``path/file.py:function``."""
        module, sep, function = str(text).rpartition(":")
        if not sep or not module or not function:
            raise ConfigError(f"{where} {text!r} must look like 'module:function' or 'path/file.py:function'")
        return cls(module, function)

    @classmethod
    def named(cls, value: Any, where: str = "") -> CodeRef | None:
        """The reference in a configuration value that may instead name a Keras object
        (``loss: huber``): a string with a ``:`` is the user's code, anything else is not."""
        return cls.parse(value, where) if cls.is_reference(value) else None

    @staticmethod
    def is_reference(value: Any) -> bool:
        """Whether a configuration value names the user's code rather than a Keras object."""
        return isinstance(value, str) and ":" in value

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"

    @property
    def is_file(self) -> bool:
        """Whether the module part is a file path (else an importable module)."""
        return self.module.endswith(".py")

    @property
    def workflow_file(self) -> str | None:
        """The file a workflow reruns a step for when it changes; ``None`` for an importable
        module, which is not a file of the workflow."""
        return self.module if self.is_file else None

    def source_file(self) -> str | None:
        """The source file of the code (an importable module's as Python finds it, without
        importing the module itself), or ``None`` when it cannot be found."""
        if self.is_file:
            return self.module
        try:
            with _workdir_on_path():
                found = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        return found.origin if found is not None else None

    def sha256(self) -> str | None:
        """``sha256:<hex>`` of the source file's bytes (a record's ``code`` entry), or ``None``
        when there is no source file to hash."""
        path = self.source_file()
        if path is None:
            return None
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()

    def check(self, where: str) -> None:
        """Check, without importing anything, that the reference can be loaded.

        A file must exist and define the function (or import or assign the name) at its top
        level; a module must be findable. Importing happens only in the steps that call the
        code (they may import TensorFlow); this check runs before any job.
        """
        if self.is_file:
            self._check_file(where)
            return
        try:
            with _workdir_on_path():
                found = importlib.util.find_spec(self.module)
        except (ImportError, ValueError) as exc:
            found, reason = None, str(exc)
        else:
            reason = "no such module on the Python path"
        if found is None:
            raise ConfigError(f"{where} {str(self)!r} cannot be imported: {self.module}: {reason}")

    def _tree(self, path: Path, where: str) -> ast.Module:
        try:
            return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as exc:
            raise ConfigError(
                f"{where} {str(self)!r} cannot be imported: {path} line {exc.lineno}: {exc.msg}"
            ) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{where} {str(self)!r}: {path}: byte {exc.start} is not UTF-8") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where} {str(self)!r}: {path} cannot be read ({exc})") from None

    def check_options(self, options: dict[str, Any], fixed: int, where: str) -> None:
        """Check, without importing anything, that the function takes the keyword ``options``
        after its ``fixed`` positional arguments: :class:`ConfigError` naming ``where``, the
        option and the parameters it has. Says nothing of a function it cannot read (defined
        by assignment, or in a module without source), nor of one that takes ``**kwargs``."""
        source = self.source_file()
        if source is None or not Path(source).is_file():
            return
        tree = self._tree(Path(source), where)
        found = [
            n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == self.function
        ]
        if not found or found[-1].args.kwarg is not None:
            return
        args = found[-1].args
        named = [a.arg for a in [*args.posonlyargs, *args.args][fixed:] if a not in args.posonlyargs]
        named += [a.arg for a in args.kwonlyargs]
        for key in options:
            if key not in named:
                takes = ", ".join(named) if named else "none"
                raise ConfigError(
                    f"{where}.{key}: {self.function}() in {source} has no parameter {key!r}; its options: {takes}"
                )

    def _check_file(self, where: str) -> None:
        path = Path(self.module)
        if not path.is_file():
            raise ConfigError(f"{where} {str(self)!r}: file {self.module} does not exist")
        tree = self._tree(path, where)
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        names |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        if self.function not in names:
            raise ConfigError(f"{where} {str(self)!r}: {self.module} has no function {self.function!r}")

    def load(self, where: str = "model.builder") -> Callable[..., Any]:
        """Import the module and return the function; :class:`ConfigError` naming ``where``
        if the file is missing, the import fails or the name is not a function of it.

        A file is imported as the module ``samebits_builder_<stem>``, registered in
        ``sys.modules``: Keras' registry and pickling look modules up by name.
        """
        try:
            module = self._import(where)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 (any import failure is the user's module's)
            raise ConfigError(f"{where} {str(self)!r} cannot be imported: {type(exc).__name__}: {exc}") from None
        func = getattr(module, self.function, None)
        if not callable(func):
            raise ConfigError(f"{where} {str(self)!r}: {self.module} has no function {self.function!r}")
        return func

    def _import(self, where: str) -> Any:
        if not self.is_file:
            with _workdir_on_path():
                return importlib.import_module(self.module)
        path = Path(self.module)
        if not path.is_file():
            raise ConfigError(f"{where} {str(self)!r}: file {self.module} does not exist")
        name = "samebits_builder_" + path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"{where} {str(self)!r}: {self.module} is not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def relocated(self, module: str) -> CodeRef:
        """The same function in ``module`` (another path of the same file)."""
        return dataclasses.replace(self, module=module)
