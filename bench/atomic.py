"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A reader (or a crashed writer) never sees a half-written checkpoint, CSV, JSON or cache file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

try:  # POSIX; elsewhere locks are no-ops
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

from bench.errors import BenchError

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
        raise BenchError(f"Cannot write {path}: {exc.strerror or exc}. Nothing was changed there.") from None
    except BaseException:
        _remove_quietly(tmp)
        raise


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


def torch_save(obj, path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@contextlib.contextmanager
def file_lock(lock_path, what: str, remedy: str):
    """Hold an exclusive lock on `lock_path` for the block: serializes read-modify-write cycles
    (leaderboards) and one-time cache builds (the domain classifier) across processes.
    A lock file that cannot be created is "Cannot write {what}: {reason}. {remedy}"."""
    lock_path = Path(lock_path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a")
    except OSError as exc:
        raise BenchError(f"Cannot write {what}: {exc.strerror or exc}. {remedy}") from None
    with fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
