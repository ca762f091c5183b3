"""Forked worker processes for the engine's two heavy stages (the ``ast`` stage and libcst analysis).

Workers are forked, not spawned: they inherit the run's state (units, index, checker) instead of receiving
it pickled, and only small results travel back. Forking a multithreaded process can deadlock the child,
so :func:`fork_is_safe` decides whether a pool may be used at all; a pool that breaks (a worker killed,
out of memory, a task raising) makes :func:`fork_map` return None, and the caller does the same work
serially (which raises the task's error, if it was one, where it can be reported).

The pool is a few lines of ``os.fork`` and pipes rather than ``concurrent.futures``: a
``ProcessPoolExecutor`` costs its parent about 45 ms of CPU per stage for 200 tasks (a management thread,
a queue and a pickle per task), on a machine that has two cores for the whole run. Here the parent writes
the item numbers into one pipe that the workers read, 4 bytes at a time, as they become free (the
largest items first: the pool's tail is then short), and each worker sends all its results back at once.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")

_ITEM = 4  # bytes per item number in the job pipe
_ATOMIC = 4096 // _ITEM * _ITEM  # POSIX: pipe writes up to PIPE_BUF (>= 512; 4096 on Linux) are atomic


def fork_is_safe() -> bool:
    """Forking a multithreaded process can deadlock the child: only fork a single-threaded one.

    ``flaxprec check`` never imports jax, but a caller embedding the engine (a test, a notebook) may have.
    """
    if not hasattr(os, "fork"):
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

    Items are handed out one at a time in ``order``. ``meanwhile`` runs in this process once the workers
    are started (say, an import the next stage needs: the workers do not inherit it, this process is
    otherwise idle). Returns None if the pool broke; the caller then falls back to serial work.
    """
    # Inherited objects leave the workers' garbage collections: a collection would otherwise touch every
    # one of them, copying the pages a fork shares (and spending the time).
    gc.freeze()
    jobs_read, jobs_write = os.pipe()
    children: list[tuple[int, int]] = []  # (pid, read end of its result pipe; -1 once closed), not reaped
    try:
        for _ in range(workers):
            result_read, result_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns into the caller's code
                _work(task, state, jobs_read, result_write, (result_read, jobs_write))
            os.close(result_write)
            children.append((pid, result_read))
        os.close(jobs_read)
        jobs_read = -1
        numbers = b"".join(i.to_bytes(_ITEM, "little") for i in order)
        for start in range(0, len(numbers), _ATOMIC):  # a worker never reads half an item number
            os.write(jobs_write, numbers[start : start + _ATOMIC])
        os.close(jobs_write)
        jobs_write = -1
        if meanwhile is not None:
            meanwhile()
        results: dict[int, Result] = {}
        broken = False
        while children:
            pid, result_read = children[0]
            children[0] = (pid, -1)
            with os.fdopen(result_read, "rb") as stream:
                data = stream.read()
            _, status = os.waitpid(pid, 0)
            children.pop(0)
            broken = broken or status != 0 or not data
            if not broken:
                results.update(pickle.loads(data))
        return None if broken or len(results) != len(order) else results
    except OSError:  # no fork, no pipe: serial
        return None
    finally:  # on an error or Ctrl-C too: no open pipe, no orphan worker
        for fd in (jobs_read, jobs_write, *(fd for _, fd in children)):
            if fd != -1:
                with contextlib.suppress(OSError):
                    os.close(fd)
        for pid, _ in children:
            _reap(pid)
        gc.unfreeze()


def _work(task: Callable[[Any, int], Any], state: Any, jobs: int, out: int, parents: tuple[int, int]) -> None:
    """A worker's life: items from the job pipe until it is empty, then every result in one pickle.

    ``parents``: the parent's ends of the pipes, closed here (the job pipe ends when its last writer is).
    """
    code = 1
    try:
        for fd in parents:
            os.close(fd)
        results = {}
        while item := os.read(jobs, _ITEM):
            position = int.from_bytes(item, "little")
            results[position] = task(state, position)
        data = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(out, "wb") as stream:
            stream.write(data)
        code = 0
    finally:  # an error: the parent sees the exit code and redoes the work serially (and reports it)
        os._exit(code)  # no atexit handlers, no flush of buffers inherited from the parent


def _reap(pid: int) -> None:
    import signal

    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
