"""Forked worker processes for the engine's two heavy stages (the ``ast`` stage and libcst analysis).

Workers are forked, not spawned: they inherit the run's state (units, index, checker) instead of receiving
it pickled, and only small results travel back. Forking a multithreaded process can deadlock the child,
so :func:`fork_is_safe` decides whether a pool may be used at all; a pool that breaks (a worker killed,
out of memory) makes :func:`fork_map` return None, and the caller does the same work serially.

Imported only when a stage has enough work for a pool: ``multiprocessing`` is not free to import.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

Result = TypeVar("Result")

# What forked workers inherit: the task function and its shared state (never pickled).
_TASK: tuple[Callable[[Any, int], Any], Any] | None = None


def fork_is_safe() -> bool:
    """Forking a multithreaded process can deadlock the child: only fork a single-threaded one.

    ``flaxprec check`` never imports jax, but a caller embedding the engine (a test, a notebook) may have.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return threading.active_count() == 1 and not any(m in sys.modules for m in ("jax", "torch", "tensorflow"))


def fork_map(
    task: Callable[[Any, int], Result],
    state: Any,
    order: Sequence[int],
    workers: int,
    meanwhile: Callable[[], object] | None = None,
) -> dict[int, Result] | None:
    """``{i: task(state, i)}`` for every ``i`` in ``order``, computed in ``workers`` forked processes.

    Items are handed out one at a time in ``order`` (put the largest first: the pool's tail is then
    short). ``meanwhile`` runs in this process once the workers are busy (say, an import the next stage
    needs: the workers do not inherit it, this process is otherwise idle). Returns None if the pool broke;
    the caller then falls back to serial work.
    """
    global _TASK
    _TASK = (task, state)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = pool.map(_run, order, chunksize=1)  # submitted now; the workers start at once
            if meanwhile is not None:
                meanwhile()
            return dict(zip(order, results, strict=True))
    except (BrokenProcessPool, OSError):
        return None
    finally:
        _TASK = None


def _run(position: int) -> Any:
    """Runs in a forked worker: the inherited task on one item."""
    assert _TASK is not None
    task, state = _TASK
    return task(state, position)
