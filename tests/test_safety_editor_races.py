"""A person's editor saving the working memory while tool writes land on it.

The promise under test: a tool write never replaces bytes it has not seen, whoever else writes the file. Every
acknowledged insight ends up in the note exactly once, every line the editor saved ends up there exactly once,
and a call that could not keep both is refused with an error (and then wrote nothing). Nothing is torn: every
`##` section and the footer the note had are still there.

The simulated editor is careful, as real editors are: it keeps a buffer, and before each save it checks that the
file still has the inode, size and modification time it last read or wrote; if not, it reloads the buffer and
starts over. What is left is the window between that check and the save, which no editor can close; the server
has to. It saves in one of five ways:

- `in_place`: open the file for writing (no truncation), write the buffer, truncate to its length;
- `truncate`: open with O_TRUNC and write in 2-4 KiB chunks with 1-10 ms sleeps between them (vim with
  `backupcopy=yes` on a slow disk);
- `rename`: write a hidden temp file beside the note and rename it over the note (vim's default, Emacs, JetBrains);
- `append`: open with O_APPEND and write one line (`some-command >> note.md`: the shell opens, the command
  writes a moment later);
- `recreate`: delete the note, then create it again with the buffer.

Every random choice comes from `PM_TEST_SEED` (printed; default below). Timing decides only how many races
happen, never the verdict on a correct server, except for one documented bound: the server re-checks a write for
`server.afterwrite.AFTER_WRITE_SECONDS` after it, so the final check waits that long.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from memory_schema.errors import ProjectMemoryError
from server.afterwrite import AFTER_WRITE_SECONDS
from server.memory import ProjectMemory
from support import copy_example

SEED = int(os.environ.get("PM_TEST_SEED", "20261202"))
print(f"test_safety_editor_races: PM_TEST_SEED={SEED}")

WORKING_MEMORY = "AI助手工作记忆.md"
ANCHOR = "### 代码风格\n"  # the editor adds its lines under this heading (the person's coding-style list)
WRITES = 120
SETTLE = AFTER_WRITE_SECONDS + 0.3


class Editor:
    """A careful editor that keeps adding one uniquely marked line to the note and saving it."""

    def __init__(self, path: Path, mode: str, rng: random.Random, *, think: tuple[float, float] = (0.12, 0.3),
                 pause: float = 0.005, chunk_sleep: float = 0.01) -> None:
        self.path = path
        self.mode = mode
        self.rng = rng
        self.think = think  # between two saves
        self.pause = pause  # between the careful check and the save, and between open and write
        self.chunk_sleep = chunk_sleep
        self.saved: list[str] = []  # the lines of completed saves
        self.reloads = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self._buffer = ""
        self._seen: tuple[int, int, int] | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as err:  # reported by the test, never swallowed
            self.error = err

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _load(self) -> None:
        while True:
            try:
                with open(self.path, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    data = handle.read()
            except FileNotFoundError:  # a save of the server's under way? look again
                time.sleep(0.002)
                continue
            seen = (info.st_ino, info.st_size, info.st_mtime_ns)
            if self._identity() == seen:
                self._buffer, self._seen = data.decode("utf-8"), seen
                return

    def _run(self) -> None:
        self._load()
        number = 0
        while not self.stop.is_set():
            time.sleep(self.rng.uniform(*self.think))
            number += 1
            line = f"- 编辑器行 EDITOR-{self.mode}-{number:04d}"
            if self.mode == "append":
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    time.sleep(self.rng.uniform(0, self.pause))
                    os.write(fd, (line + "\n").encode("utf-8"))
                finally:
                    os.close(fd)
                self.saved.append(line)
                continue
            if self._identity() != self._seen:
                self.reloads += 1
                self._load()
            at = self._buffer.index(ANCHOR) + len(ANCHOR)
            text = self._buffer[:at] + line + "\n" + self._buffer[at:]
            time.sleep(self.rng.uniform(0, self.pause))
            if self._identity() != self._seen:  # changed since read: reload, never save over it
                self.reloads += 1
                self._load()
                continue
            seen = self._save(text.encode("utf-8"))
            if seen is None:
                self.reloads += 1
                self._load()
                continue
            self._buffer, self._seen = text, seen
            self.saved.append(line)

    def _save(self, data: bytes) -> tuple[int, int, int] | None:
        """Save `data` the editor's way; the identity of the file it wrote, or None if it gave up."""
        if self.mode == "in_place":
            fd = os.open(self.path, os.O_WRONLY)
            time.sleep(self.rng.uniform(0, self.pause))
            os.write(fd, data)
            os.ftruncate(fd, len(data))
        elif self.mode == "truncate":
            fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
            step = self.rng.randint(2048, 4096)
            for start in range(0, len(data), step):
                os.write(fd, data[start : start + step])
                time.sleep(self.rng.uniform(0.001, self.chunk_sleep))
        elif self.mode == "rename":
            temp = self.path.with_name(f".{self.path.name}.editor-save")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.fsync(fd)
            os.rename(temp, self.path)
        elif self.mode == "recreate":
            os.unlink(self.path)
            time.sleep(self.rng.uniform(0, self.pause))
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:  # someone created it in between: that is a change, reload
                return None
            os.write(fd, data)
        else:
            raise ValueError(self.mode)
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        return (info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass
class Race:
    acknowledged: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    editor: Editor | None = None
    seconds: float = 0.0


def _titles(seed: int) -> list[str]:
    return [f"洞察{seed % 1000:03d}-{number:03d}" for number in range(WRITES)]


def _start_editor(path: Path, mode: str, rng: random.Random) -> tuple[Editor, threading.Thread]:
    editor = Editor(path, mode, random.Random(rng.randrange(1 << 32)))
    thread = threading.Thread(target=editor.run, name=f"editor-{mode}", daemon=True)
    thread.start()
    return editor, thread


def _stop_editor(editor: Editor, thread: threading.Thread) -> None:
    editor.stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the simulated editor hung"
    if editor.error is not None:
        raise AssertionError(f"the simulated editor failed: {editor.error!r}") from editor.error


def race_in_process(memory: ProjectMemory, path: Path, mode: str, seed: int, writes: int = WRITES) -> Race:
    """`writes` append_insight calls through `ProjectMemory` while the editor saves `path` its way."""
    rng = random.Random(f"{seed}-{mode}")
    editor, thread = _start_editor(path, mode, rng)
    race = Race(editor=editor)
    started = time.monotonic()
    try:
        for title in _titles(seed)[:writes]:
            try:
                memory.append_insight(title, f"- 由工具写入：{title}")
                race.acknowledged.append(title)
            except ProjectMemoryError as err:
                race.refused[title] = str(err)
            time.sleep(rng.uniform(0, 0.01))
    finally:
        _stop_editor(editor, thread)
    race.seconds = time.monotonic() - started
    time.sleep(SETTLE)
    return race


def problems(race: Race, original: str, final: str) -> list[str]:
    """Everything the final note gets wrong, as sentences (empty: the promise held)."""
    found = []
    for title in race.acknowledged:
        count = final.count(f"### {title}\n")
        if count != 1:
            found.append(f"acknowledged insight {title} is in the note {count} times")
    for title, message in race.refused.items():
        if f"### {title}\n" in final:
            found.append(f"refused insight {title} was written anyway ({message})")
    assert race.editor is not None
    for line in race.editor.saved:
        count = final.count(line + "\n")
        if count != 1:
            found.append(f"editor line {line!r} is in the note {count} times")
    headings = [line for line in original.splitlines() if line.startswith("## ")]
    now = [line for line in final.splitlines() if line.startswith("## ")]
    if now != headings:
        found.append(f"the note is torn: its sections went from {headings} to {now}")
    if final.count("**最后更新**") != original.count("**最后更新**"):
        found.append("the note is torn: its footer is missing or doubled")
    return found


def _summary(race: Race, mode: str, seed: int) -> str:
    assert race.editor is not None
    return (f"mode={mode} PM_TEST_SEED={seed}: {len(race.acknowledged)} acknowledged, {len(race.refused)} refused, "
            f"{len(race.editor.saved)} editor saves, {race.editor.reloads} editor reloads, {race.seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    ["in_place", "truncate", "rename", "append", "recreate"],
)
def test_an_editor_saving_during_120_tool_writes_loses_no_insight_and_no_line_of_its_own(
    tmp_path: Path, mode: str
) -> None:
    root = copy_example(tmp_path)
    path = root / WORKING_MEMORY
    original = path.read_text(encoding="utf-8")
    with ProjectMemory(root) as memory:
        race = race_in_process(memory, path, mode, SEED)
    final = path.read_text(encoding="utf-8")
    print(_summary(race, mode, SEED))
    assert race.editor is not None and race.editor.saved, "the editor never saved: the race tested nothing"
    assert len(race.acknowledged) >= WRITES // 2, f"most calls were refused: {sorted(set(race.refused.values()))[:3]}"
    assert problems(race, original, final) == []


async def _race_over_stdio(root: Path, cache: Path, mode: str, seed: int) -> Race:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "server", "serve", "--root", str(root)],
        env={"PROJECT_MEMORY_CACHE_DIR": str(cache), "PROJECT_MEMORY_LOG": "ERROR"},
        cwd=str(root.parent),
    )
    rng = random.Random(f"{seed}-stdio-{mode}")
    async with Client(params, read_timeout_seconds=60) as client:
        await client.call_tool("read_memory", {"handle": WORKING_MEMORY})  # the server is up and has read it
        editor, thread = _start_editor(root / WORKING_MEMORY, mode, rng)
        race = Race(editor=editor)
        started = time.monotonic()
        try:
            for title in _titles(seed):
                result = await client.call_tool("append_insight", {"title": title, "body": f"- 由工具写入：{title}"})
                text = result.content[0].text if result.content else ""
                if result.is_error:
                    race.refused[title] = text
                else:
                    race.acknowledged.append(title)
                await anyio.sleep(rng.uniform(0, 0.01))
        finally:
            await anyio.to_thread.run_sync(_stop_editor, editor, thread)
        race.seconds = time.monotonic() - started
        await anyio.sleep(SETTLE)  # the server is still running its after-write checks
    return race


@pytest.mark.slow
def test_a_truncate_then_write_editor_racing_the_stdio_server_loses_no_insight_and_no_line(
    tmp_path: Path, private_cache: Path
) -> None:
    root = copy_example(tmp_path)
    path = root / WORKING_MEMORY
    original = path.read_text(encoding="utf-8")
    race = anyio.run(_race_over_stdio, root, private_cache, "truncate", SEED)
    final = path.read_text(encoding="utf-8")
    print(_summary(race, "truncate over stdio", SEED))
    assert race.editor is not None and race.editor.saved
    assert len(race.acknowledged) >= WRITES // 2, f"most calls were refused: {sorted(set(race.refused.values()))[:3]}"
    assert problems(race, original, final) == []
