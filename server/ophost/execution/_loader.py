"""Loading the ops ``ophost serve`` hosts from a Python file or module.

:func:`load_ops` imports user code and collects its ops and resources:

- **Which code.** ``file="path/to/ops.py"`` imports that file under a module name of
  its own (``_ophost_file_<stem>_<hash>``, so it cannot shadow an installed module),
  after putting the file's directory first on ``sys.path`` so the file can import
  its siblings. ``module="pkg.ops"`` imports a module by its dotted name, after
  putting the current directory on ``sys.path`` (as ``python -m`` would).
- **Which ops.** A module-level ``ophost_ops`` (a list or tuple of ``OpDefinition``,
  or a dict from op name to ``OpDefinition``) is the explicit collection, used as
  it is. Without one, every module-level ``OpDefinition`` is hosted, in definition
  order; an op bound to two names is hosted once, under its op name.
- **Other libraries' ops.** When the module imported a library an installed adapter
  is registered for (the ``ophost.op_adapters`` entry point group, one entry per
  library, named for its top-level module: the ``dagster`` extra registers
  ``dagster``), that adapter turns the library's op objects into ophost ops, hosted
  beside the module's own (and usable in ``ophost_ops``). The library itself is never
  imported here: only a module that imported it is looked at.
- **Resources.** A module-level ``ophost_resources``: a dict from resource key to
  resource object, or a callable (no arguments) returning one. Without one, there
  are no resources.

Every problem raises :class:`LoadError`, whose message a CLI can print as it is:
a missing file or module, an error raised while importing (with its traceback),
two different ops with one name, no ops at all, or an op requiring a resource key
that ``ophost_resources`` does not provide.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType, TracebackType

from ophost.definitions._op import OpDefinition
from ophost.errors import OpHostError

__all__ = [
    "OPS_ATTRIBUTE",
    "RESOURCES_ATTRIBUTE",
    "LoadError",
    "LoadedOps",
    "build_resources",
    "close_resources",
    "load_ops",
]

# The module-level name of an explicit collection of ops.
OPS_ATTRIBUTE = "ophost_ops"
# The module-level name of the resources (a dict, or a callable returning one).
RESOURCES_ATTRIBUTE = "ophost_resources"
# The entry point group of adapters for other libraries' ops. Each entry is named for
# the library's top-level module and loads a callable taking a module's namespace and
# returning, for each op object found, (where it was found, the object, its ophost op).
ADAPTERS_GROUP = "ophost.op_adapters"

Adapted = list[tuple[str, object, OpDefinition]]


class LoadError(OpHostError):
    """User code could not be loaded; the message says why, ready to print.

    ``traceback`` holds the formatted traceback when importing the code raised.
    """

    def __init__(self, message: str, *, traceback: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback


@dataclass(frozen=True)
class LoadedOps:
    """What :func:`load_ops` found.

    ``ops`` maps op name to definition, in the order the ops were defined (or listed
    in ``ophost_ops``). ``resources`` maps resource key to resource object.
    ``source`` says where they came from (``file /abs/path/ops.py``, ``module pkg.ops``).
    """

    ops: dict[str, OpDefinition]
    resources: dict[str, object]
    source: str
    #: The file (an absolute path) or the module name the ops came from, for a worker
    #: process to load the same.
    file: str | None = None
    module_name: str | None = None
    #: The imported module itself.
    namespace: ModuleType | None = None
    #: False when the resources were left for worker processes to build.
    resources_built: bool = True


def load_ops(
    *, file: str | None = None, module: str | None = None, resources: bool = True
) -> LoadedOps:
    """Import ``file`` (a path) or ``module`` (a dotted name) and collect its ops.

    Give exactly one of the two. See the module docstring for the rules. With
    ``resources=False`` the resources are not built (worker processes build their
    own); :func:`build_resources` builds them later if needed.
    """
    if (file is None) == (module is None):
        raise LoadError("give exactly one of a Python file or a module name to load ops from")
    if file is not None:
        path = Path(file).resolve()
        source = f"file {path}"
        loaded = _import_file(file, path, source)
    else:
        assert module is not None
        source = f"module {module}"
        loaded = _import_module(module, source)
    ops = _collect_ops(loaded, source)
    found = LoadedOps(
        ops=ops,
        resources={},
        source=source,
        file=str(Path(file).resolve()) if file is not None else None,
        module_name=module,
        namespace=loaded,
        resources_built=False,
    )
    # Resources given as a dict exist already (importing built them): checking them
    # costs nothing. Only a factory is left to whoever runs the bodies.
    if resources or not callable(vars(loaded).get(RESOURCES_ATTRIBUTE)):
        return build_resources(found)
    return found


def build_resources(loaded: LoadedOps) -> LoadedOps:
    """``loaded`` with its module's resources built and checked against its ops."""
    if loaded.resources_built or loaded.namespace is None:
        return loaded
    resources = _collect_resources(loaded.namespace, loaded.source)
    _check_resources(loaded.ops, resources, loaded.source)
    return replace(loaded, resources=resources, resources_built=True)


def close_resources(loaded: LoadedOps) -> None:
    """Close the resources ``loaded`` built (those with a ``close()`` method); a close
    that raises does not stop the others."""
    for resource in loaded.resources.values():
        close = getattr(resource, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


def _import_file(given: str, path: Path, source: str) -> ModuleType:
    if not path.exists():
        raise LoadError(f"cannot load ops: no such file: {given}")
    if not path.is_file():
        raise LoadError(f"cannot load ops: {given} is not a file")
    stem = re.sub(r"\W", "_", path.stem)
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = f"_ophost_file_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot load ops: {given} is not a Python file (it must end in .py)")
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    importlib.invalidate_caches()
    loaded = importlib.util.module_from_spec(spec)
    # Registered before running, as a normal import does: dataclasses, pickling and
    # typing.get_type_hints look the module up by name while it runs.
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise _import_failed(source, exc) from exc
    return loaded


def _import_module(name: str, source: str) -> ModuleType:
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise LoadError(f"cannot load ops: {name!r} is not a dotted module name")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise LoadError(
                f"cannot load ops: no module named {name!r} (is it installed, or is its "
                "directory the current directory or on PYTHONPATH?)"
            ) from exc
        raise _import_failed(source, exc) from exc
    except (Exception, SystemExit) as exc:
        raise _import_failed(source, exc) from exc


def _import_failed(source: str, exc: BaseException) -> LoadError:
    text = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)))
    return LoadError(
        f"cannot load ops: importing {source} raised {type(exc).__name__}:\n{text.rstrip()}",
        traceback=text,
    )


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """Skip the leading frames of this module and of the import machinery."""
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module not in (__name__, "importlib") and not module.startswith("importlib."):
            break
        tb = tb.tb_next
    return tb


def _adapted_ops(namespace: dict[str, object], source: str) -> Adapted:
    """The ops the registered adapters make of the objects of libraries the module imported."""
    found: Adapted = []
    for entry in importlib.metadata.entry_points(group=ADAPTERS_GROUP):
        if sys.modules.get(entry.name) is None:
            continue
        try:
            adapt: Callable[[dict[str, object]], Adapted] = entry.load()
            found.extend(adapt(namespace))
        except Exception as exc:
            text = "".join(
                traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__))
            )
            raise LoadError(
                f"cannot load ops from {source}: its {entry.name} ops could not be adapted: "
                f"{type(exc).__name__}: {exc}",
                traceback=text,
            ) from exc
    return found


def _collect_ops(loaded: ModuleType, source: str) -> dict[str, OpDefinition]:
    namespace = vars(loaded)
    adapted = _adapted_ops(namespace, source)
    if OPS_ATTRIBUTE in namespace:
        by_object = {id(obj): op_def for _, obj, op_def in adapted}
        candidates = _explicit_ops(namespace[OPS_ATTRIBUTE], source, by_object)
    else:
        candidates = [
            (f"module attribute {attr!r}", value)
            for attr, value in namespace.items()
            if isinstance(value, OpDefinition)
        ]
        candidates.extend((where, op_def) for where, _, op_def in adapted)
    ops: dict[str, OpDefinition] = {}
    where_found: dict[str, str] = {}
    for where, op_def in candidates:
        existing = ops.get(op_def.name)
        if existing is op_def:
            continue
        if existing is not None:
            raise LoadError(
                f"cannot load ops from {source}: two different ops are named "
                f"{op_def.name!r}: {where_found[op_def.name]} and {where} (op names must "
                "be unique)"
            )
        ops[op_def.name] = op_def
        where_found[op_def.name] = where
    if not ops:
        if OPS_ATTRIBUTE in namespace:
            raise LoadError(f"cannot load ops from {source}: {OPS_ATTRIBUTE} is empty")
        raise LoadError(
            f"cannot load ops from {source}: it defines no ops (decorate functions with "
            f"@op at module level, or list them in {OPS_ATTRIBUTE})"
        )
    return ops


def _explicit_ops(
    collection: object, source: str, adapted: dict[int, OpDefinition]
) -> list[tuple[str, OpDefinition]]:
    if isinstance(collection, dict):
        found: list[tuple[str, OpDefinition]] = []
        for key, value in collection.items():
            label = f"{OPS_ATTRIBUTE}[{key!r}]"
            op_def = _as_op(adapted.get(id(value), value), label, source)
            if key != op_def.name:
                raise LoadError(
                    f"cannot load ops from {source}: {label} holds op {op_def.name!r}; each "
                    "key must be the name of its op"
                )
            found.append((label, op_def))
        return found
    if isinstance(collection, (list, tuple)):
        return [
            (
                f"{OPS_ATTRIBUTE}[{i}]",
                _as_op(adapted.get(id(value), value), f"{OPS_ATTRIBUTE}[{i}]", source),
            )
            for i, value in enumerate(collection)
        ]
    raise LoadError(
        f"cannot load ops from {source}: {OPS_ATTRIBUTE} must be a list, tuple or dict of "
        f"ops, got {type(collection).__name__}"
    )


def _as_op(value: object, label: str, source: str) -> OpDefinition:
    if not isinstance(value, OpDefinition):
        raise LoadError(
            f"cannot load ops from {source}: {label} is a {type(value).__name__}, not an op "
            "(an OpDefinition, as @op returns)"
        )
    return value


def _collect_resources(loaded: ModuleType, source: str) -> dict[str, object]:
    namespace = vars(loaded)
    if RESOURCES_ATTRIBUTE not in namespace:
        return {}
    resources: object = namespace[RESOURCES_ATTRIBUTE]
    what = RESOURCES_ATTRIBUTE
    if callable(resources):
        factory: Callable[[], object] = resources
        what = f"{RESOURCES_ATTRIBUTE}()"
        try:
            resources = factory()
        except Exception as exc:
            text = "".join(
                traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__))
            )
            raise LoadError(
                f"cannot load ops from {source}: {what} raised {type(exc).__name__}:\n"
                f"{text.rstrip()}",
                traceback=text,
            ) from exc
    if not isinstance(resources, dict):
        raise LoadError(
            f"cannot load ops from {source}: {what} must be a dict from resource key to "
            f"resource, got {type(resources).__name__}"
        )
    for key in resources:
        if not isinstance(key, str):
            raise LoadError(
                f"cannot load ops from {source}: {what} has a key of type "
                f"{type(key).__name__} ({key!r}); resource keys are str"
            )
    return dict(resources)


def _check_resources(
    ops: dict[str, OpDefinition], resources: dict[str, object], source: str
) -> None:
    problems = [
        f"op {name!r} requires resource {key!r}"
        for name, op_def in ops.items()
        for key in sorted(op_def.required_resource_keys - resources.keys())
    ]
    if problems:
        provided = ", ".join(repr(k) for k in resources) or "none"
        raise LoadError(
            f"cannot load ops from {source}: missing resources "
            f"(provided in {RESOURCES_ATTRIBUTE}: {provided}):\n"
            + "\n".join(f"  {p}" for p in problems)
        )
