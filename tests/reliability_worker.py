"""A process the reliability tests start: it writes to, searches in, serves or crashes inside one memory root.

    reliability_worker.py write ROOT WORKER WRITES SEED [--stdio | --no-index]
        one concurrent writer: a ProjectMemory (keeping its index current unless --no-index), or with --stdio
        an SDK client driving `serve` below over a pipe; prints a JSON report
    reliability_worker.py read ROOT STOP_FILE    searches in a loop until STOP_FILE exists; prints a JSON report
    reliability_worker.py serve ROOT [FLAGS]     `project-memory serve --root ROOT FLAGS`, lock audit added
    reliability_worker.py zygote                 forks crash writers on request (below)

Every write carries a unique marker (`zq3x07`: worker 3, write 7; `kc0042`: crash write 42) and closing words,
so a reader of the files can tell a write that is present once and whole from one that is missing, torn or
doubled. With `PM_AUDIT_LOG` set, the cross-process locks of the index and of the notes append a line each
time they are really taken or given back (`<pid> index|note <lock file> enter|leave <monotonic ns>`), which
lets a test prove that two processes never held one lock at once and tell what a killed process held.

The zygote imports everything once and then, for each `go` line on stdin, forks a child that writes in a loop,
logging `begin`/`done` per write with single `O_APPEND` writes (which a SIGKILL cannot tear), so a test can
kill writers hundreds of times without paying for an interpreter start each time.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WORKING_MEMORY = "AI助手工作记忆.md"
PROGRESS = "学习进度.md"
TODO = "深度探索TODO.md"
SHARED_TOPICS = ("并发主题甲", "并发主题乙", "并发主题丙")
CRASH_TOPICS = ("崩溃主题甲", "崩溃主题乙")
STATUSES = ("done", "in_progress", "not_started")
# Per concurrent writer: how its writes are spread over the use cases (scaled to the number of writes).
MIX = {"insight": 14, "discussion": 8, "progress": 8, "todo": 12, "complete": 8}


@dataclass(frozen=True)
class Write:
    """One write a worker makes: which tool, its arguments, and how to find it again in the files."""

    op: str  # insight | discussion | progress | todo | complete
    marker: str
    args: dict[str, str]
    path: str  # the document the write lands in
    probe: str  # text that occurs exactly once in `path` once the write is there
    closing: str  # the write's last words: present with `probe`, or the write is torn

    @property
    def tool(self) -> str:
        return {
            "insight": "append_insight",
            "discussion": "record_discussion",
            "progress": "update_progress",
            "todo": "add_research_todo",
            "complete": "complete_research_todo",
        }[self.op]


def insight(marker: str, note: str) -> Write:
    body = f"- {marker} 起：{note}\n- 同一行里再说一次 {marker}\n- 收尾 {marker}止"
    return Write(
        "insight",
        marker,
        {"title": f"并发洞察 {marker}", "body": body},
        WORKING_MEMORY,
        f"### 并发洞察 {marker}\n",
        f"收尾 {marker}止",
    )


def discussion(marker: str, topic: str) -> Write:
    args = {
        "topic": topic,
        "question": f"问题 {marker} ：两个进程同时追加一轮讨论时，轮次编号会不会重复？",
        "thinking": f"思考 {marker} ：先想锁，再想重读。",
        "details": "- 锁文件在用户缓存的 `locks/` 里\n- 改动在锁内基于当前文本计算",
        "methodology": "先找共享状态，再找读改写的窗口。",
        "practice": f"实践 {marker}止",
    }
    path = f"深度讨论/{topic}深度讨论.md"
    return Write("discussion", marker, args, path, f"问题 {marker} ：", f"实践 {marker}止")


def progress(marker: str, lecture: int, status: str) -> Write:
    args = {"lecture": str(lecture), "status": status, "note": f"进度 {marker} 止"}
    return Write("progress", marker, args, PROGRESS, f"进度 {marker} 止", f"进度 {marker} 止")


def todo(marker: str, topic: str) -> Write:
    return Write(
        "todo",
        marker,
        {"item": f"并发研究 {marker} 止", "topic": topic},
        TODO,
        f"并发研究 {marker} 止",
        f"并发研究 {marker} 止",
    )


def complete(added: Write) -> Write:
    """Tick the item `added` added. Its evidence on disk is the ticked line itself (`[x] item`), never the item's
    text: that is there from the moment the item was added, so a completion killed before it wrote anything
    must not count as written."""
    item = added.args["item"]
    return Write("complete", added.marker, {"item": item}, TODO, f"[x] {item}", item)


def plan_writes(worker: int, count: int, seed: int) -> list[Write]:
    """Worker `worker`'s writes, the same for the worker and for the test that checks them."""
    rng = random.Random(seed * 1009 + worker)
    total = sum(MIX.values())
    left = {op: round(n * count / total) for op, n in MIX.items()}
    left["insight"] += count - sum(left.values())
    writes: list[Write] = []
    open_items: list[Write] = []
    for index in range(count):
        marker = f"zq{worker}x{index:02d}"
        choices = [op for op, n in left.items() if n > 0 and (op != "complete" or open_items)]
        if not choices:  # only completions left and nothing open: add instead
            choices = ["todo"]
        op = rng.choices(choices, weights=[left.get(c, 1) for c in choices])[0]
        left[op] = left.get(op, 1) - 1
        if op == "insight":
            writes.append(insight(marker, f"进程{worker}的第{index}条"))
        elif op == "discussion":
            writes.append(discussion(marker, rng.choice(SHARED_TOPICS)))
        elif op == "progress":
            writes.append(progress(marker, rng.randint(3, 17), rng.choice(STATUSES)))
        elif op == "todo":
            writes.append(todo(marker, f"并发TODO{worker % 3}"))
            open_items.append(writes[-1])
        else:
            writes.append(complete(open_items.pop(rng.randrange(len(open_items)))))
    return writes


def crash_write(number: int, seed: int, last: Write | None) -> Write:
    """Crash write `number`: mostly small appends, some in-place edits, some to the large working memory."""
    rng = random.Random(seed * 7919 + number)
    marker = f"kc{number:04d}"
    roll = rng.random()
    if last is not None and last.op == "todo" and roll < 0.15:
        return complete(last)
    if roll < 0.35:
        return insight(marker, f"崩溃测试第{number}条")
    if roll < 0.6:
        return todo(marker, "崩溃TODO")
    if roll < 0.8:
        return discussion(marker, rng.choice(CRASH_TOPICS))
    return progress(marker, rng.randint(3, 17), rng.choice(STATUSES))


def problems_with(text: str, write: Write, *, required: bool) -> list[str]:
    """What is wrong with `write` in its document's text: missing (when `required`), doubled or torn."""
    where = f"{write.op} {write.marker} in {write.path}"
    found, closed = text.count(write.probe), text.count(write.closing)
    if write.op == "complete":  # the item is there either way; the write is the tick
        if closed > 1 or found > 1:
            return [f"{where}: the item occurs {closed} times, ticked {found} times"]
        return [f"{where}: not ticked"] if required and found == 0 else []
    if found == 0 and closed == 0:
        return [f"{where}: missing"] if required else []
    if found != 1 or closed != 1:
        return [f"{where}: found {found} times, its closing words {closed} times"]
    return []


def audit_overlaps(lines: list[str]) -> list[str]:
    """Times two processes held one lock file at once, from a `PM_AUDIT_LOG` file's lines."""
    holds: dict[str, list[tuple[int, int, str]]] = {}
    open_: dict[tuple[str, str], int] = {}
    for line in lines:
        pid, _kind, name, event, at = line.split()
        if event == "enter":
            open_[(pid, name)] = int(at)
        elif (pid, name) in open_:
            holds.setdefault(name, []).append((open_.pop((pid, name)), int(at), pid))
    overlaps: list[str] = []
    for name, spans in holds.items():
        spans.sort()
        end, holder = 0, ""
        for start, stop, pid in spans:
            if start < end:
                overlaps.append(f"{name}: {pid} entered {(end - start) / 1e6:.2f} ms before {holder} left")
            if stop > end:
                end, holder = stop, pid
    return overlaps


# --- applying writes -----------------------------------------------------------------------------------


def apply_direct(memory: Any, write: Write) -> None:
    from memory_schema.discussion import DiscussionParts

    args = dict(write.args)
    if write.op == "discussion":
        topic = args.pop("topic")
        memory.record_discussion(topic, DiscussionParts(**args))
    else:
        getattr(memory, write.tool)(**args)


@dataclass
class Report:
    worker: int
    via: str
    completed: list[str] = field(default_factory=list)  # "op:marker"
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_direct(root: Path, writes: list[Write], report: Report, indexed: bool) -> None:
    from memory_schema.errors import ProjectMemoryError
    from server.memory import ProjectMemory

    with ProjectMemory(root) as memory:
        if indexed:
            memory.ensure_index()
        for write in writes:
            try:
                apply_direct(memory, write)
            except ProjectMemoryError as err:
                report.failed.append(f"{write.op}:{write.marker}: {err}")
            else:
                report.completed.append(f"{write.op}:{write.marker}")


async def run_stdio(root: Path, writes: list[Write], report: Report) -> None:
    from mcp import Client, StdioServerParameters

    flags = os.environ.get("PM_SERVE_FLAGS", "").split()
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(Path(__file__).resolve()), "serve", str(root), *flags],
        cwd=str(REPO),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    async with Client(params) as client:
        for write in writes:
            result = await client.call_tool(write.tool, write.args)
            if result.is_error:
                text = " ".join(getattr(part, "text", "") for part in result.content)
                report.failed.append(f"{write.op}:{write.marker}: {text}")
            else:
                report.completed.append(f"{write.op}:{write.marker}")


def command_write(root: Path, worker: int, count: int, seed: int, stdio: bool, indexed: bool) -> None:
    install_audit()
    writes = plan_writes(worker, count, seed)
    report = Report(worker=worker, via="stdio" if stdio else "direct")
    started = time.monotonic()
    if stdio:
        import anyio

        anyio.run(run_stdio, root, writes, report)
    else:
        run_direct(root, writes, report, indexed)
    report.seconds = round(time.monotonic() - started, 2)
    print(json.dumps(asdict(report), ensure_ascii=False), flush=True)


# --- reading while others write --------------------------------------------------------------------------

READ_QUERIES = ("KV缓存", "并发洞察", "pin_memory", "内存墙", "并发研究", "问题", "量化", "BPE")


def command_read(root: Path, stop_file: Path) -> None:
    """Search in a loop until told to stop; every exception and every index state seen is reported."""
    from server.memory import ProjectMemory
    from server.search.request import search_request

    states: dict[str, int] = {}
    errors: list[str] = []
    searches = 0
    rng = random.Random(5)
    with ProjectMemory(root) as memory:
        memory.ensure_index()
        while not stop_file.exists() or searches == 0:
            query = rng.choice(READ_QUERIES)
            try:
                results = memory.search(search_request(query, limit=10))
                states[results.index_state] = states.get(results.index_state, 0) + 1
                if query == "KV缓存" and not results.hits:
                    errors.append("KV缓存 found nothing")
            except Exception as err:  # the point of this reader: any exception at all is a finding
                errors.append(f"{query}: {type(err).__name__}: {err}")
            searches += 1
    print(json.dumps({"searches": searches, "states": states, "errors": errors}, ensure_ascii=False), flush=True)


# --- the audited locks --------------------------------------------------------------------------------------


def install_audit() -> None:
    """Log every hold of the index lock and of the note locks to $PM_AUDIT_LOG (when set)."""
    path = os.environ.get("PM_AUDIT_LOG")
    if not path:
        return
    import contextlib

    from server import locks

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    real = locks._file_lock

    @contextlib.contextmanager
    def audited(folder: Path, name: str, deadline: float) -> Any:
        kind = "index" if name == "index.lock" else "note" if name.startswith("note-") else "journal"
        with real(folder, name, deadline):
            os.write(fd, f"{os.getpid()} {kind} {name} enter {time.monotonic_ns()}\n".encode())
            try:
                yield
            finally:
                os.write(fd, f"{os.getpid()} {kind} {name} leave {time.monotonic_ns()}\n".encode())

    locks._file_lock = audited  # type: ignore[assignment]


def command_serve(root: Path, flags: list[str]) -> None:
    install_audit()
    from server.cli import main

    main(["serve", "--root", str(root), *flags], prog_name="project-memory")


# --- the crash zygote ---------------------------------------------------------------------------------------


def command_zygote() -> None:
    """Read `go ROOT FIRST COUNT SEED INDEXED LOG` lines; fork a writer for each; report `pid`, then `exit`."""
    install_audit()
    from server.memory import ProjectMemory  # noqa: F401  # imported once here, so children start at once
    from server.search.analyzer import load_segmenter

    load_segmenter()
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "go":
            break
        root, first, count, seed, indexed, log = words[1:]
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                crash_child(Path(root), int(first), int(count), int(seed), indexed == "1", Path(log))
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)  # never return into the zygote's loop
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)


def crash_child(root: Path, first: int, count: int, seed: int, indexed: bool, log: Path) -> None:
    from server.memory import ProjectMemory
    from server.search.request import search_request

    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def say(text: str) -> None:
        os.write(fd, (text + "\n").encode())

    memory = ProjectMemory(root)
    if indexed:
        memory.ensure_index()
    say("ready")
    last: Write | None = None
    for number in range(first, first + count):
        write = crash_write(number, seed, last)
        say(f"begin {write.op} {write.marker} {json.dumps(asdict(write), ensure_ascii=False)}")
        apply_direct(memory, write)
        say(f"done {write.op} {write.marker}")
        if indexed:
            # Writes only queue their index work (the maintenance thread waits for a pause that never comes
            # inside the kill window); a search indexes the queue first, so the kills land in index commits.
            memory.search(search_request(write.marker))
        last = write
    memory.close()
    say("finished")


def main(argv: list[str]) -> None:
    command, *rest = argv
    if command == "write":
        root, worker, count, seed, *flags = rest
        stdio, indexed = "--stdio" in flags, "--no-index" not in flags
        command_write(Path(root), int(worker), int(count), int(seed), stdio, indexed)
    elif command == "read":
        command_read(Path(rest[0]), Path(rest[1]))
    elif command == "serve":
        command_serve(Path(rest[0]), rest[1:])
    elif command == "zygote":
        command_zygote()
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
