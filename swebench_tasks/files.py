"""The project's filesystem helpers: names from data made safe, whole-file writes, and the
one lock that every command changing the working directory takes.

Instance ids, run ids, model and profile names come from datasets, predictions files,
catalogs and flags: none of them is used as a path component as it is. `safe_name` keeps
an ordinary name (`django__django-11099`) unchanged, so existing state keeps working, and
maps anything else to a readable prefix plus a hash of the whole name.

The lock is filelock's native (flock) lock, so the kernel drops it when its holder dies,
even by `kill -9`: a dead run never blocks the next one. The holder writes its pid into
the lock file once it holds it, so a refused command can name the live run.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from swebench_tasks.errors import UsageError

if TYPE_CHECKING:
    from swebench_tasks.config import Paths

# A plain file name on every POSIX filesystem: no separator, no leading dot or dash (hidden
# files, `.`/`..`, options), no control or non-ASCII characters. ':' '@' '+' appear in
# ordinary model ids (`llama3.1:8b`, `openai/gpt-4o:free` once '/' is mapped).
PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:@+-]*")
# Leaves room under the usual 255-byte limit for a suffix or two names joined
# (the harness's `<model>.<run_id>.json`).
MAX_NAME = 100
PREFIX = 40


def safe_name(text: str) -> str:
    """`text` as one file or folder name: unchanged if it is plain, else `prefix-hash`.

    Deterministic (the same id always finds its files) and injective in practice: the
    hash covers the whole text, so two ids never share a file.
    """
    if len(text) <= MAX_NAME and PLAIN.fullmatch(text):
        return text
    readable = re.sub(r"[^A-Za-z0-9-]+", "_", text).strip("_-")[:PREFIX].rstrip("_-") or "x"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable}-{digest}"


def is_safe_name(text: str) -> bool:
    """True for a name `safe_name` keeps as it is (one that tools may use as a path themselves)."""
    return safe_name(text) == text


def slug(text: str) -> str:
    """A filesystem- and doit-safe name (no ':' or '/')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """A file that replaces `path` in one rename when the block ends without error.

    Readers (and a later run after a crash) see the old file or the new one, never half.
    The temp file sits beside `path` (same filesystem) and is created with the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (see atomic_file)."""
    with atomic_file(path) as fh:
        fh.write(text)


# -- the working directory's lock ------------------------------------------------------------


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
        lock = FileLock(
            path, timeout=0, is_singleton=True, thread_local=False, preserve_lock_file=True, on_acquired=_write_pid
        )
        lock.acquire()
    except Timeout:
        raise UsageError(
            f"another swebench run is in progress in {workdir} ({holder(path)})",
            fix="wait for it to finish, or stop it (Ctrl+C or kill PID), then run this again",
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot write in the working directory {workdir}: {exc.strerror or exc}",
            fix="run swebench in a directory you can write to, or fix its permissions",
        ) from None
    try:
        yield
    finally:
        lock.release()
