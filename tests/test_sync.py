"""Live sync: a missed file event never leaves search stale, and subscribers hear about changes on disk."""

import functools
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from server import freshness as freshness_module
from server import sync as sync_module
from server.app import create_server
from server.freshness import Freshness
from server.memory import ProjectMemory
from server.search.request import search_request
from server.search.whoosh_index import MERGE_AT
from server.sync import LiveSync
from support import TODAY, copy_example, find


def unswept(memory: ProjectMemory, query: str) -> list[str]:
    """The engine asked directly: no freshness sweep first."""
    return [hit.path for hit in memory.engine.search(search_request(query)).hits]

NOTE = "学习笔记/漏掉的事件.md"


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[ProjectMemory]:
    with ProjectMemory(copy_example(tmp_path), today=lambda: TODAY, freshness=Freshness()) as memory:
        memory.ensure_index()
        yield memory


def test_a_search_sees_a_change_even_when_the_watcher_has_stopped(memory: ProjectMemory) -> None:
    live = LiveSync(memory)
    live.start()
    live.watcher.stop()  # from here on every event is missed, as with an inotify limit or a synced folder
    assert not live.healthy
    (memory.root / NOTE).write_text("# 漏掉的事件\n\n监视器停止后写入的笔记。\n", encoding="utf-8")
    assert [hit.path for hit in find(memory, "监视器停止后写入").hits] == [NOTE]
    live.stop()


def test_a_quiet_healthy_watcher_is_backed_up_by_a_sweep(
    memory: ProjectMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watcher will not deliver during this test: its pause and its longest wait both outlast it.
    monkeypatch.setattr(sync_module, "DEBOUNCE_SECONDS", 60.0)
    monkeypatch.setattr(sync_module, "FolderWatcher", functools.partial(sync_module.FolderWatcher, max_wait=60.0))
    monkeypatch.setattr(freshness_module, "QUIET_SWEEP_SECONDS", 0.0)
    live = LiveSync(memory)
    live.start()
    try:
        (memory.root / NOTE).write_text("# 漏掉的事件\n\n安静期之后的修改。\n", encoding="utf-8")
        assert unswept(memory, "安静期之后的修改") == []  # not yet indexed by the watcher
        assert [hit.path for hit in find(memory, "安静期之后的修改").hits] == [NOTE]  # the sweep found it
    finally:
        live.stop()


def test_the_watcher_indexes_an_outside_edit_by_itself(memory: ProjectMemory) -> None:
    live = LiveSync(memory)
    live.start()
    try:
        (memory.root / NOTE).write_text("# 漏掉的事件\n\n由监视器自己索引的内容。\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if unswept(memory, "由监视器自己索引"):
                break
            time.sleep(0.05)
        assert unswept(memory, "由监视器自己索引") == [NOTE]
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
async def test_a_first_search_before_any_index_builds_it_and_answers_from_it(tmp_path: Path) -> None:
    server = create_server(ProjectMemory(copy_example(tmp_path), today=lambda: TODAY), watch=False, warm_up=False)
    async with Client(server) as client:
        result = await client.call_tool("search_discussions", {"query": "BPE"})
    assert not result.is_error
    assert result.structured_content["index_state"] == "fresh" and result.structured_content["hits"]


def test_saves_never_merge_and_the_small_segments_they_leave_are_merged_in_the_background(
    memory: ProjectMemory,
) -> None:
    index = memory.index
    for round_ in range(3 * MERGE_AT):
        (memory.root / NOTE).write_text(f"# 漏掉的事件\n\n第{round_}次保存 marker{round_}\n", encoding="utf-8")
        index.update([NOTE])
    deadline = time.monotonic() + 20
    while index._index.needs_merge() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not index._index.needs_merge() and index._index.segment_count() < 2 * MERGE_AT
    assert unswept(memory, f"marker{3 * MERGE_AT - 1}") == [NOTE]
    assert unswept(memory, f"marker{3 * MERGE_AT - 2}") == []
