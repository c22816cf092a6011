"""Files that hold customers' personal data (uploaded CSVs, import error reports): owner-only.

They live under the data folder, never under Reflex's public upload folder, in 0700
directories, each file 0600 from the moment it exists (no window where the umask decides).
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """`path` created if missing, readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def private_opener(path: str, flags: int) -> int:
    """For `open(..., opener=private_opener)`: the file is 0600 even if it existed before."""
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd
