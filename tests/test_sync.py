"""Live sync: a missed file event never leaves search stale, and subscribers hear about changes on disk."""

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from server import sync as sync_module
from server.app import create_server
from server.memory import ProjectMemory
from server.sync import LiveSync
from support import TODAY, copy_example

NOTE = "学习笔记/漏掉的事件.md"


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[ProjectMemory]:
    with ProjectMemory(copy_example(tmp_path), today=lambda: TODAY) as memory:
        memory.warm_up()
        yield memory


def test_a_search_sees_a_change_even_when_the_watcher_has_stopped(memory: ProjectMemory) -> None:
    live = LiveSync(memory)
    live.start()
    live.watcher.stop()  # from here on every event is missed, as with an inotify limit or a synced folder
    assert not live.healthy
    (memory.root / NOTE).write_text("# 漏掉的事件\n\n监视器停止后写入的笔记。\n", encoding="utf-8")
    assert [hit.path for hit in memory.search("监视器停止后写入").hits] == [NOTE]
    live.stop()


def test_a_quiet_healthy_watcher_is_backed_up_by_a_sweep(
    memory: ProjectMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "DEBOUNCE_SECONDS", 5.0)  # the watcher will not deliver during this test
    monkeypatch.setattr(sync_module, "QUIET_SWEEP_SECONDS", 0.0)
    live = LiveSync(memory)
    live.start()
    try:
        (memory.root / NOTE).write_text("# 漏掉的事件\n\n安静期之后的修改。\n", encoding="utf-8")
        assert memory.search_engine.search("安静期之后的修改").hits == []  # not yet indexed by the watcher
        assert [hit.path for hit in memory.search("安静期之后的修改").hits] == [NOTE]  # the sweep found it
    finally:
        live.stop()


def test_the_watcher_indexes_an_outside_edit_by_itself(memory: ProjectMemory) -> None:
    live = LiveSync(memory)
    live.start()
    try:
        (memory.root / NOTE).write_text("# 漏掉的事件\n\n由监视器自己索引的内容。\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if memory.search_engine.search("由监视器自己索引").hits:  # the engine directly: no sweep
                break
            time.sleep(0.05)
        assert [hit.path for hit in memory.search_engine.search("由监视器自己索引").hits] == [NOTE]
    finally:
        live.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_subscribers_hear_when_a_memory_document_changes_on_disk(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    server = create_server(ProjectMemory(root, today=lambda: TODAY))
    async with Client(server) as client, client.listen(
        resource_subscriptions=["memory://progress"], resources_list_changed=True
    ) as events:
        progress = root / "学习进度.md"
        progress.write_text(progress.read_text(encoding="utf-8") + "\n外部编辑\n", encoding="utf-8")
        seen = []
        with anyio.fail_after(10):
            async for event in events:
                seen.append(event)
                if getattr(event, "uri", None) == "memory://progress":
                    break
        assert any(getattr(event, "uri", None) == "memory://progress" for event in seen)


@pytest.mark.anyio
async def test_the_first_search_reports_progress_while_the_index_is_built(tmp_path: Path) -> None:
    server = create_server(ProjectMemory(copy_example(tmp_path), today=lambda: TODAY), watch=False,
                           warm_in_background=False)
    updates: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        updates.append((done, total))

    async with Client(server) as client:
        result = await client.call_tool("search_discussions", {"query": "BPE"}, progress_callback=on_progress)
    assert not result.is_error
    assert updates and updates[-1][0] == updates[-1][1]


def test_saves_never_merge_and_tidy_merges_afterwards(memory: ProjectMemory) -> None:
    index = memory.search_engine._upkeep._index
    for round_ in range(31):
        (memory.root / NOTE).write_text(f"# 漏掉的事件\n\n第{round_}次保存 marker{round_}\n", encoding="utf-8")
        memory.search_engine.update_paths([NOTE])
    assert len(index._ix._segments()) >= 31  # each save added a segment; none waited for a merge
    memory.search_engine.tidy()
    assert len(index._ix._segments()) == 2  # the full build's segment and the saves', merged
    assert [hit.path for hit in memory.search_engine.search("marker30").hits] == [NOTE]
    assert memory.search_engine.search("marker29").hits == []
