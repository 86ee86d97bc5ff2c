"""Compiled kernels when they are ready; their Python functions on small inputs until then.

Compiling every Numba kernel takes a minute or more on a machine that never ran the
engine; afterwards each process loads them from Numba's on-disk cache in milliseconds.
So a kernel that Python code calls — an *entry* (``@entry`` over ``@numba.njit``) —
decides per call:

- compiled in this process already, or found in the on-disk cache: the compiled code;
- else, a small input (``cost(*args)`` at most ``CIRCUITGRAD_INTERPRET_LIMIT``, by default
  the number of array elements passed): the kernel's own Python function, run as Python
  (``python_version``: every jitted function it calls replaced by its Python function
  too, Numba intrinsics such as ``prefetch`` by a no-op, and NumPy's scalar math by the C
  library's, which is what Numba's code calls: the results are the same, bit for bit);
- else: compile now, as Numba always did.

The on-disk cache is looked at again at most once a second, so a process switches to
compiled code as soon as another (the background compiler of ``circuitgrad serve``)
has written it. ``CIRCUITGRAD_ENGINE_MODE`` forces ``compiled`` or ``python``
(``forced()`` does it in a block, for tests); the default is ``auto``. ``ENTRIES`` lists
every entry; ``compiled_entries()`` counts those compiled in this process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from numba.core.dispatcher import Dispatcher
from numba.core.extending import _Intrinsic

MODES = ("auto", "compiled", "python")
RECHECK_SECONDS = 1.0
DEFAULT_LIMIT = 50_000
_mode = os.environ.get("CIRCUITGRAD_ENGINE_MODE", "auto").strip().lower() or "auto"
if _mode not in MODES:
    raise ValueError(f"CIRCUITGRAD_ENGINE_MODE={_mode!r}: one of {', '.join(MODES)}")
LIMIT = int(float(os.environ.get("CIRCUITGRAD_INTERPRET_LIMIT", "") or DEFAULT_LIMIT))


def mode() -> str:
    return _mode


@contextmanager
def forced(new_mode: str) -> Iterator[None]:
    """Run the block with every entry in ``new_mode`` (process-wide: for tests)."""
    global _mode
    if new_mode not in MODES:
        raise ValueError(new_mode)
    old, _mode = _mode, new_mode
    try:
        yield
    finally:
        _mode = old


def elements(*args) -> int:
    """The default cost: array elements passed (in tuples too)."""
    n = 0
    for a in args:
        if isinstance(a, np.ndarray):
            n += a.size
        elif isinstance(a, tuple):
            n += elements(*a)
    return n


class Entry:
    """A jitted function called from Python: compiled, or interpreted on small inputs."""

    def __init__(self, dispatcher: Dispatcher, cost: Callable[..., int] = elements):
        self.dispatcher, self.cost = dispatcher, cost
        self.py_func = dispatcher.py_func
        self._python: Callable | None = None
        self._ready = False
        self._next_check = 0.0
        self._lock = threading.Lock()
        functools.update_wrapper(self, self.py_func)

    @property
    def compiled(self) -> bool:
        return bool(self.dispatcher.signatures)

    def __call__(self, *args):
        if _mode == "auto":
            if self._ready or self._from_cache(args):
                return self.dispatcher(*args)
            if self.cost(*args) <= LIMIT:
                return self.python(*args)
            self._ready = True  # compile now: the input is too large to interpret
        elif _mode == "python":
            return self.python(*args)
        return self.dispatcher(*args)

    def python(self, *args):
        """The Python version's result, as the compiled one returns it."""
        if self._python is None:
            self._python = python_version(self.dispatcher)
        with np.errstate(all="ignore"):
            return _boxed(self._python(*args))

    def _from_cache(self, args) -> bool:
        """Compiled in this process, or loaded now from the on-disk cache (looked at most
        once a second)."""
        d = self.dispatcher
        if d.signatures:
            self._ready = True
            return True
        now = time.monotonic()
        if now < self._next_check:
            return False
        with self._lock:
            self._next_check = now + RECHECK_SECONDS
            try:
                self._ready = _load_cached(d, tuple(d.typeof_pyval(a) for a in args))
            except Exception:  # numba's internals moved: interpret, or compile when large
                self._ready = False
        return self._ready


ENTRIES: list[Entry] = []
_by_dispatcher: dict[int, Entry] = {}


def entry(dispatcher=None, *, cost: Callable[..., int] = elements):
    """``@entry`` (or ``entry(dispatcher)``): the ``Entry`` of a jitted function."""
    if dispatcher is None:
        return lambda d: entry(d, cost=cost)
    found = _by_dispatcher.get(id(dispatcher))
    if found is None:
        found = _by_dispatcher[id(dispatcher)] = Entry(dispatcher, cost)
        ENTRIES.append(found)
    return found


def compiled_entries() -> int:
    return sum(e.compiled for e in ENTRIES)


def _load_cached(d: Dispatcher, sig: tuple) -> bool:
    """What ``Dispatcher.compile`` does before compiling: load the overload from disk."""
    from numba.core.compiler_lock import global_compiler_lock

    if not _index_exists(d):  # nothing on disk: do not wake Numba's compiler up (2 s)
        return False
    with global_compiler_lock:
        if d.overloads.get(sig) is not None:
            return True
        cres = d._cache.load_overload(sig, d.targetctx)
        if cres is None:
            return False
        if not cres.objectmode:
            d.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        d.add_overload(cres)
        return True


def _index_exists(d: Dispatcher) -> bool:
    """Whether Numba's on-disk index of ``d`` exists (True when that cannot be told)."""
    try:
        return os.path.exists(d._cache._cache_file._index_path)
    except AttributeError:
        return True


def _boxed(value):
    """NumPy scalars as Python's (as Numba returns them), inside tuples too."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_boxed(v) for v in value)
    return value


# -- the Python versions ----------------------------------------------------------------
# NumPy's name -> the C library's, for every function the op table evaluates with (Numba
# compiles each to the C library's; NumPy's own loops may differ in the last bit)
_UNARY = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
          "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "sqrt": "sqrt",
          "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
          "arccosh": "acosh", "arctanh": "atanh", "log1p": "log1p", "expm1": "expm1",
          "log2": "log2", "log10": "log10", "floor": "floor", "ceil": "ceil"}  # fmt: skip
_BINARY = {"power": "pow", "hypot": "hypot", "arctan2": "atan2"}


def _libm():
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    out = {}
    for table, arity in ((_UNARY, 1), (_BINARY, 2)):
        for numpy_name, c_name in table.items():
            f = getattr(lib, c_name)
            f.restype, f.argtypes = ctypes.c_double, [ctypes.c_double] * arity
            out[numpy_name] = f
    return out


class _ScalarMath(types.ModuleType):
    """``numpy``, but its math on scalars is the C library's (NumPy's own differs from it
    in the last bit for some: tanh, pow; Numba's compiled code calls the C library)."""

    def __init__(self):
        super().__init__("numpy")
        for name, f in _libm().items():
            setattr(self, name, _scalar_or_array(f, getattr(np, name)))

    def __getattr__(self, name):
        return getattr(np, name)


def _scalar_or_array(c_function, numpy_function):
    def f(*args):
        if all(isinstance(a, float | int | np.floating | np.integer) for a in args):
            return np.float64(c_function(*(float(a) for a in args)))
        return numpy_function(*args)

    return f


_numpy = None


def _noop(*args):
    return None


def python_version(fn) -> Callable:
    """``fn`` (an entry, a dispatcher or a function) as plain Python: the functions it
    calls replaced the same way, recursively."""
    global _numpy
    if _numpy is None:
        _numpy = _ScalarMath()
    return _python(fn, {})


def _python(obj, memo: dict):
    if isinstance(obj, Entry):
        obj = obj.dispatcher
    if id(obj) in memo:
        return memo[id(obj)]
    f = obj.py_func if isinstance(obj, Dispatcher) else obj
    scope: dict = {}
    closure = f.__closure__
    if closure:  # what a closure holds (a key, a jitted function) is replaced too
        closure = tuple(types.CellType(_replacement(c.cell_contents, memo)) for c in closure)
    g = types.FunctionType(f.__code__, scope, f.__name__, f.__defaults__, closure)
    memo[id(obj)] = g
    for name, value in f.__globals__.items():
        scope[name] = _replacement(value, memo)
    return g


class _Module(types.ModuleType):
    """One of our modules as a Python version sees it: ``rewrite.new_built`` is the Python
    version of that kernel too."""

    def __init__(self, module: types.ModuleType, memo: dict):
        super().__init__(module.__name__)
        self._module, self._memo = module, memo

    def __getattr__(self, name):
        value = _replacement(getattr(self._module, name), self._memo)
        setattr(self, name, value)
        return value


def _replacement(value, memo: dict):
    if isinstance(value, Entry | Dispatcher):
        return _python(value, memo)
    if isinstance(value, _Intrinsic):
        return _noop
    if value is np:
        return _numpy
    if isinstance(value, types.ModuleType) and value.__name__.startswith("circuitgrad"):
        if id(value) not in memo:
            memo[id(value)] = _Module(value, memo)
        return memo[id(value)]
    return value
