"""Deeply nested code: every walk of a syntax tree survives it, and ``ast.parse`` judges it as CPython does.

The tool's walks are recursive (the gate's ``ast`` visitor, libcst's visitors, transformers and code
generation): a Python frame or more per level of nesting. At the interpreter's default recursion limit
(1000 frames) a valid 500-term sum is already too deep for libcst, while CPython compiles up to ~3000
levels. Rewriting every walk (libcst's included) iteratively is not ours to do, and a depth check on every
node would slow the normal path. Instead each file's work is done as usual, and a ``RecursionError`` at
a per-file boundary (the ``ast`` stage, a file's libcst analysis, a fix) makes :func:`retry_deep` redo
just that work in a thread with a large stack and a high recursion limit. Valid code is then analysed for
real; only what still fails there (out of memory) becomes a per-file finding, and the run goes on.

The limit is raised only in that thread's big stack: recursion in C (``ast.parse`` building its objects,
libcst's native parser, pickle, json) uses the C stack, which the main thread's 8 MB cannot grow. A
C-level level of recursion was measured at 0.4-0.8 kB of stack on CPython 3.11, so ``DEEP_STACK_BYTES``
over ``DEEP_RECURSION_LIMIT`` leaves five times that per frame. The stack is reserved address space; only
the pages a deep file touches are used.

Whether the *parser* accepts a file is CPython's verdict at its default settings, not ours: on 3.11 the
depth ``ast.parse`` accepts shrinks with the frames already on the stack and grows with the recursion
limit, so :func:`parse_python` parses at a fixed budget, that of ``compile()`` called by a script at its
top level with the default limit, whatever the caller's depth (serial runs and forked workers agree) and
whatever limit an embedding program set. From 3.12 the parser's budget is in C and depends on neither.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

Result = TypeVar("Result")
Params = ParamSpec("Params")

DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 100_000
# CPython's default recursion limit: the budget ``compile()`` has when a script calls it at its top level.
DEFAULT_RECURSION_LIMIT = 1000
# The recursion counter's depth at a script's top-level ``compile()`` call, less the one that
# ``compile(*arguments)`` adds (3.11, measured: ``python -c "compile(...)"`` then accepts exactly what
# parse_python accepts, construct by construct; tests/test_robust_depth.py holds it to that).
_TOP_LEVEL_DEPTH = 1
# Frames of headroom the normal path leaves below a script's budget: ``ast.parse`` alone stops a level or
# two away from the full compiler, so a file this close to the limit is judged by _parse_deep instead.
_MARGIN = 10
TOO_DEEP = "too deeply nested for Python's parser"
NO_LARGE_STACK = "no room for a thread with a large stack"

_deep = threading.local()  # ``active``: this thread is a retry thread (a failure there is final)


def retry_deep(work: Callable[[], Result]) -> Result:
    """``work()`` again, in a thread with a large stack and a high recursion limit; its result or its error.

    Called after ``work()`` raised ``RecursionError`` where it runs normally. Inside such a thread already
    (a boundary nested in another), there is nothing more to give: the error is raised again at once.
    The caller's thread waits in ``join``; the recursion limit (one per interpreter) and the thread stack
    size come back to what they were. Forked workers may call this: the thread ends before they return.
    """
    if getattr(_deep, "active", False):
        raise RecursionError("maximum recursion depth exceeded even with a large stack")
    _return_freed_memory()
    return _in_deep_thread(work, DEEP_RECURSION_LIMIT)


def _return_freed_memory() -> None:
    """Give the failed attempt's memory back to the system before the retry (glibc only; else nothing).

    That memory is free, but kept in the calling thread's malloc arena, and the retry's thread allocates
    from an arena of its own: without this, the peak is both attempts' (check of 2,976 nested lambdas,
    whose libcst parse alone takes 1.7 GB: 3.4 GB; with it, 1.7 GB, for ~0.1 s on this path only).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # a C library without it (musl)
        return
    trim(0)


def _in_deep_thread(work: Callable[[], Result], limit: int | None) -> Result:
    """``work()`` in a new thread with ``DEEP_STACK_BYTES`` of stack; ``limit``: the recursion limit meanwhile
    (None: ``work`` sets it itself)."""
    outcome: list[Result] = []
    failure: list[BaseException] = []

    def run() -> None:
        _deep.active = True
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the waiting thread, which raises it
            failure.append(error)

    old_limit = sys.getrecursionlimit()
    try:
        old_stack = threading.stack_size(DEEP_STACK_BYTES)
    except (ValueError, RuntimeError) as error:  # a platform that cannot size thread stacks
        raise MemoryError(NO_LARGE_STACK) from error
    try:
        thread = threading.Thread(target=run, name="flaxprec-deep", daemon=True)
        if limit is not None:
            sys.setrecursionlimit(limit)
        try:
            thread.start()  # RuntimeError when the stack cannot be reserved (an address-space limit)
        except RuntimeError as error:
            raise MemoryError(NO_LARGE_STACK) from error
        finally:
            threading.stack_size(old_stack)
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
    if failure:
        raise failure[0]
    return outcome[0]


def parse_python(text: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(text)``, accepting exactly the nesting ``compile()`` accepts in a script at its top level.

    Raises ``SyntaxError`` (code too deep for CPython: message :data:`TOO_DEEP`) or ``ValueError`` (a null
    byte), as ``ast.parse`` does. The normal case is a plain parse: the caller's stack leaves the parser
    less room than a script's top level has, so only a file that fails for depth is judged again, at
    exactly that budget, in a fresh thread (:func:`_parse_deep`).
    """
    with warnings.catch_warnings():  # invalid escapes etc. are the checked code's business, not ours
        warnings.simplefilter("ignore")
        try:
            with _budget_at_most(DEFAULT_RECURSION_LIMIT - _TOP_LEVEL_DEPTH - _MARGIN):
                return ast.parse(text, filename=filename)
        except (RecursionError, MemoryError):
            pass  # too deep here; maybe not at a script's top level
    return _in_deep_thread(lambda: _parse_deep(text, filename), None)


def _parse_deep(text: str, filename: str) -> ast.Module:
    """The tree of a file too deep for the caller's stack, if ``compile()`` at a script's top level takes it.

    Its tree is built at a high limit; the verdict on depth is then ``compile(text, filename, "exec")``'s
    at the budget of a script's top level (the full compiler's checks, not ``ast.parse``'s, which stop one
    level earlier or later depending on the construct). A ``SyntaxError`` of the compiler proper
    (``return`` outside a function) is not the parser's: the normal path, ``ast.parse``, ignores it too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sys.setrecursionlimit(DEEP_RECURSION_LIMIT)
        try:
            tree = compile(text, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (RecursionError, MemoryError) as error:  # MemoryError: the parser's own stack overflowed
            raise SyntaxError(TOO_DEEP, (filename, 1, 1, None)) from error
        arguments = (text, filename, "exec", 0, True)  # dont_inherit: the checked code's own future imports
        sys.setrecursionlimit(_frame_depth() + DEFAULT_RECURSION_LIMIT - _TOP_LEVEL_DEPTH)
        try:
            # Called with *arguments: the interpreter never specialises that call, which would change by
            # one the depth it counts for it (and the verdict with it) once this line has run a few times.
            compile(*arguments)
        except (RecursionError, MemoryError) as error:
            raise SyntaxError(TOO_DEEP, (filename, 1, 1, None)) from error
        except SyntaxError:
            pass  # the compiler's, not the parser's
    return tree


class _budget_at_most:
    """Lower the recursion limit, for the ``with`` block, so that at most ``budget`` frames are left.

    A test runner or a notebook may have raised the limit; the parser would then accept code that CPython
    rejects at its defaults (and another run of the same file would not). Counting frames misses C-level
    entries, which only leaves less: a file that fails for that is parsed again at the exact budget.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.old: int | None = None

    def __enter__(self) -> None:
        limit = sys.getrecursionlimit()
        if limit - 1 > self.budget:  # else the limit leaves less than the budget (the caller is a frame)
            wanted = _frame_depth() + self.budget
            if wanted < limit:
                self.old = limit
                sys.setrecursionlimit(wanted)

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            sys.setrecursionlimit(self.old)


def _frame_depth() -> int:
    """The number of Python frames on the calling thread's stack (its caller's frame included)."""
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def retry_when_deep(work: Callable[Params, Result]) -> Callable[Params, Result]:
    """``work``, done again by :func:`retry_deep` when it raises ``RecursionError`` (a decorator).

    For a per-file unit of work that changes nothing outside itself before it returns, so that doing it
    twice is the same as doing it once. A ``RecursionError`` (or ``MemoryError``) of the retry propagates.
    """

    @functools.wraps(work)
    def guarded(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return work(*args, **kwargs)
        except RecursionError:
            pass  # leave the except block first: the error's traceback holds every frame of the walk
        return retry_deep(lambda: work(*args, **kwargs))

    return guarded
