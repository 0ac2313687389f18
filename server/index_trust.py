"""Open only an index this user's server wrote.

Whoosh unpickles the index's table of contents (`_MAIN_<n>.toc`) when it opens the index or a new searcher,
and unpickling runs code. The index lives inside the memory root (`.project-memory/index`), which a synced
folder, a shared drive or an unpacked archive can fill with files nobody here wrote. So after every commit the
writer records the digests of the tables of contents it left, in the user's cache folder outside the root,
and nothing is opened whose latest table of contents is not recorded there: such an index is treated as
damaged and rebuilt from the notes.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

_TOC_GLOB = "_MAIN_*.toc"


def _cache_folder() -> Path:
    explicit = os.environ.get("PROJECT_MEMORY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "project-memory"


def _record_file(directory: Path) -> Path:
    key = hashlib.sha256(str(directory.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return _cache_folder() / "trusted-indexes" / f"{key}.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _latest_toc(directory: Path) -> Path | None:
    tocs = []
    for toc in directory.glob(_TOC_GLOB):
        generation = toc.stem.rsplit("_", 1)[-1]
        if generation.isdigit():
            tocs.append((int(generation), toc))
    return max(tocs)[1] if tocs else None


def record_trusted(directory: Path) -> None:
    """After a commit (the writer's lock still held): remember the tables of contents now in `directory`."""
    digests = sorted({_digest(toc) for toc in directory.glob(_TOC_GLOB)})
    target = _record_file(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".trust.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"index": str(directory), "tocs": digests}, handle)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_trusted(directory: Path) -> bool:
    """Whether the latest table of contents in `directory` is one this user's server recorded."""
    latest = _latest_toc(directory)
    if latest is None:
        return True  # nothing Whoosh would unpickle
    try:
        recorded = json.loads(_record_file(directory).read_text(encoding="utf-8"))
        return _digest(latest) in set(recorded.get("tocs", []))
    except (OSError, ValueError, AttributeError):
        return False
