"""The hidden folders that folders are written into before they are renamed into place, and
the removal of those that a killed process left behind.

A process killed outright (``kill -9``, a power cut) cannot remove its partial folder. Its
name says who made it: ``.<name>.partial-<pid>-<start>-<host>``, with the process id, the
process's start time (clock ticks since boot, on Linux; 0 elsewhere) and a digest of the
host's name. A later run in the same output folder removes the partial folders of its own
host whose process is gone, or whose process id now belongs to a process started later. It
never removes one whose process still runs, nor one made on another host that shares the
folder (its processes cannot be seen from here), nor one named otherwise (an older aelab's
``.<name>.partial-<pid>``: remove those by hand).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
from pathlib import Path

_PARTIAL = re.compile(r"\..+\.partial-(?P<pid>\d+)-(?P<start>\d+)-(?P<host>[0-9a-f]{8})")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _start_time(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (Linux); 0 where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name may hold spaces
    except (OSError, ValueError, IndexError):
        return 0


def partial_path(final: Path) -> Path:
    """The hidden folder beside ``final`` that this process builds ``final`` in."""
    pid = os.getpid()
    return final.with_name(f".{final.name}.partial-{pid}-{_start_time(pid)}-{_host()}")


def _gone(pid: int, start: int) -> bool:
    """Whether the process that made a partial folder has ended (``start``: its start time)."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it exists
        pass
    except (OSError, OverflowError, ValueError):  # not a process id we can ask about: keep it
        return False
    now = _start_time(pid)
    return bool(start and now and now != start)  # the id now belongs to a later process


def remove_abandoned(folder: Path) -> list[Path]:
    """Remove the partial folders in ``folder`` left by processes of this host that are
    gone; return them. Anything that cannot be read or removed is left as it is."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    host, removed = _host(), []
    for path in entries:
        found = _PARTIAL.fullmatch(path.name)
        if found is None or found["host"] != host or path.is_symlink() or not path.is_dir():
            continue
        if _gone(int(found["pid"]), int(found["start"])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


__all__ = ["partial_path", "remove_abandoned"]
