"""The working directory on disk: the one lock that every command changing it takes.

The lock is filelock's native (flock) lock, so the kernel drops it when its holder dies,
even by `kill -9`: a dead run never blocks the next one. The holder writes its pid into
the lock file once it holds it, so a refused command can name the live run.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from swebench_tasks.errors import UsageError

if TYPE_CHECKING:
    from swebench_tasks.config import Paths


def _write_pid(fd: int) -> None:
    """filelock's on_acquired hook: the holder's pid, for the refusal message of the others."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def holder(path: Path) -> str:
    """The pid recorded in a lock file, or a phrase when there is none."""
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


@contextmanager
def hold(paths: Paths) -> Iterator[None]:
    """Hold the working directory's lock, or refuse with exit 2 naming the holder.

    One lock per path and process (reentrant, shared by threads), so a command holding it
    can call code that takes it again, such as a task saving a setting to `.env`.
    """
    from filelock import FileLock, Timeout

    path, workdir = paths.lock, paths.root
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, timeout=0, is_singleton=True, thread_local=False, preserve_lock_file=True,
                        on_acquired=_write_pid)
        lock.acquire()
    except Timeout:
        raise UsageError(f"another swebench run is in progress in {workdir} ({holder(path)})",
                         fix="wait for it to finish, or stop it (Ctrl+C or kill PID), then run this again") from None
    except OSError as exc:
        raise UsageError(f"cannot write in the working directory {workdir}: {exc.strerror or exc}",
                         fix="run swebench in a directory you can write to, or fix its permissions") from None
    try:
        yield
    finally:
        lock.release()
