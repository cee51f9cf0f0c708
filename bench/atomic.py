"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A reader (or a crashed writer) never sees a half-written checkpoint, CSV, JSON or cache file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
from pathlib import Path

try:  # POSIX; elsewhere locks are no-ops
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

from bench.errors import BenchError, LockBusy

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path next to `path`; on success it replaces `path` in one rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    except OSError as exc:
        raise BenchError(f"Cannot write {path}: {exc.strerror or exc}. Choose a folder you can write to.") from None
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        remedy = " Free some disk space and run the same command again." if exc.errno == errno.ENOSPC else ""
        raise BenchError(f"Cannot write {path}: {exc.strerror or exc}. Nothing was changed there.{remedy}") from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def ensure_writable_dir(folder, what: str) -> Path:
    """Create `folder` if needed and prove that a file can be written in it, so that a long job
    fails before it starts, not when it writes its results. `what` names it: "--out folder"."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise BenchError(
            f"The {what} {folder} cannot be written: {exc.strerror or exc}. Pass a folder you can write to."
        ) from None
    return folder


def check_room(folder, total_bytes: int, largest_bytes: int, what: str) -> None:
    """Refuse before a long job starts when `folder` cannot take what it will write: fewer free
    bytes than `total_bytes` (statvfs; a 0-byte test file succeeds even on a full disk), or a
    file-size limit (`ulimit -f`) below its largest file, `largest_bytes`."""
    mib = 2**20
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):  # not POSIX, or not statable: the writes report failures themselves
        stat = None
    if stat is not None and stat.f_bavail * stat.f_frsize < total_bytes:
        free = stat.f_bavail * stat.f_frsize
        raise BenchError(
            f"The {what} {folder} has {free / mib:.0f} MiB free, and this job writes about {total_bytes / mib:.0f} MiB there "
            "(checkpoints and weights). Free some space or pass a folder on another disk."
        )
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover (not POSIX)
        return
    if limit != resource.RLIM_INFINITY and limit < largest_bytes:
        raise BenchError(
            f"This process may not write files over {limit / mib:.1f} MiB (a file-size limit, `ulimit -f`), and this job's "
            f"largest file in the {what} {folder} is about {largest_bytes / mib:.1f} MiB (a training checkpoint). Raise the limit "
            "(ulimit -f unlimited) and run the same command again."
        )


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json_object(path, what: str, remedy: str) -> dict:
    """The reading side of `write_json`: a JSON object from `path`, or a BenchError
    "Cannot read {path}: ... It should be the {what} `bench run` writes; {remedy}"."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise BenchError(f"Cannot read {path}: {reason}. It should be the {what} `bench run` writes; {remedy}") from None
    if not isinstance(obj, dict):
        raise BenchError(f"Cannot read {path}: it is not a JSON object. It should be the {what} `bench run` writes; {remedy}")
    return obj


def torch_save(obj, path) -> None:
    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch reports a failed write (full disk, file-size limit) this way
            raise OSError(errno.EIO, f"the write failed ({' '.join(str(exc).split())[:120]}); the disk may be full or a file-size limit reached") from None


@contextlib.contextmanager
def file_lock(lock_path, what: str, remedy: str, busy: str | None = None):
    """Hold an exclusive lock on `lock_path` for the block: serializes read-modify-write cycles
    (leaderboards) and one-time cache builds (the domain classifier) across processes.
    A lock file that cannot be created is "Cannot write {what}: {reason}. {remedy}".

    With `busy` (a message), the lock is not waited for: the holder writes its process id and
    host into the lock file, and a second process fails at once with BenchError(`busy`), its
    "{holder}" replaced by that description (a run directory is trained by one process only).
    The kernel releases the lock when its holder exits, even by SIGKILL, so no stale lock stays.
    """
    lock_path = Path(lock_path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a")
    except OSError as exc:
        raise BenchError(f"Cannot write {what}: {exc.strerror or exc}. {remedy}") from None
    with fh:
        if fcntl is not None:
            if busy is None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            else:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise LockBusy(busy.replace("{holder}", _lock_holder(lock_path))) from None
                os.ftruncate(fh.fileno(), 0)
                fh.write(f"process {os.getpid()} on {socket.gethostname()}\n")
                fh.flush()
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _lock_holder(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "another process"
    except OSError:
        return "another process"
