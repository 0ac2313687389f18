"""Where lecture notes live: `<notes>/<NN-阶段>/<NN-LectureNN-Name>/<part>.md` in the cs336-zh layout."""

import re

from memory_schema.errors import InvalidInput

PARTS: dict[str, tuple[str, ...]] = {
    "01-理论概念.md": ("理论概念", "theory", "concepts", "01"),
    "02-实践代码.md": ("实践代码", "practice", "code", "02"),
    "03-深度问答.md": ("深度问答", "qa", "questions", "03"),
    "README.md": ("README", "readme", "overview", "index"),
}


def part_file(part: str) -> str:
    wanted = part.strip().removesuffix(".md").lower()
    for file, aliases in PARTS.items():
        if wanted == file.removesuffix(".md").lower() or wanted in (a.lower() for a in aliases):
            return file
    choices = ", ".join(aliases[0] for aliases in PARTS.values())
    raise InvalidInput(f"unknown note part {part!r}; use one of: {choices}.")


def phase_folder(number: int, name: str) -> str:
    return f"{number:02d}-{_safe(name)}" if name else f"{number:02d}"


def lecture_folder(number: int, title: str) -> str:
    """`02-Lecture02-PyTorchBuildingBlocks`: the title's words joined, punctuation dropped."""
    words = re.findall(r"[A-Za-z0-9]+|[\u4e00-\u9fff]+", title)
    name = "".join(word[:1].upper() + word[1:] for word in words)
    return f"{number:02d}-Lecture{number:02d}" + (f"-{name}" if name else "")


def _safe(name: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s]+", "", name)
