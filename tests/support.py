"""Small helpers the tests share: copies of the bundled example, the repo and shared/ locations."""

import shutil
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cs336"
SHARED = REPO.parent / "shared"
SEED = SHARED / "seed" / "AI助手工作记忆.md"
TODAY = date(2026, 11, 30)


def copy_example(tmp_path: Path, name: str = "memory") -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLE, target)
    return target


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes, keyed by relative path, skipping the index folder."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".project-memory" not in path.parts
    }
