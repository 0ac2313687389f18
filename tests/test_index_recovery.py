"""The index as a cache: caught up after changes made while no engine ran, answered around and rebuilt when
missing, damaged or locked, and shared safely by two processes."""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server import locks
from server.search import whoosh_index as index_module
from support import Searcher

REPO = Path(__file__).resolve().parents[1]

NOTES = {
    "学习笔记/kv.md": "# KV缓存\n\n推理时缓存键和值。\n",
    "学习笔记/moe.md": "# 混合专家\n\n路由器把词元分给专家。\n",
    "学习笔记/touched.md": "# 学习率预热\n\n先小后大。\n",
    "学习笔记/doomed.md": "# 量化\n\nint8 权重。\n",
}


def write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def wait_until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "memory"
    for relpath, text in NOTES.items():
        write(folder, relpath, text)
    return folder


@pytest.fixture
def index_dir(root: Path) -> Path:
    return Searcher(root).store.cache.index_dir


@pytest.fixture
def engine(root: Path) -> Iterator[Searcher]:
    searcher = Searcher(root)
    searcher.warm_up()
    yield searcher
    searcher.close()


def open_engine(root: Path) -> Searcher:
    return Searcher(root)


def test_changes_made_while_no_engine_ran_are_indexed_at_start_and_only_those(root: Path) -> None:
    first = open_engine(root)
    first.warm_up()
    first.close()
    write(root, "学习笔记/kv.md", "# KV缓存\n\n推理时缓存键和值，PagedAttention 分页管理。\n")
    write(root, "学习笔记/new.md", "# 张量并行\n\n按列切分矩阵。\n")
    (root / "学习笔记/doomed.md").unlink()
    later = time.time() + 5
    os.utime(root / "学习笔记/touched.md", (later, later))

    second = open_engine(root)
    try:
        second.warm_up()
        report = second.last_reconcile
        assert report is not None
        assert report.indexed == ["学习笔记/kv.md", "学习笔记/new.md"]
        assert report.removed == ["学习笔记/doomed.md"]
        assert report.touched == 1
        assert second.search("PagedAttention").hits[0].path == "学习笔记/kv.md"
        assert second.search("量化").hits == []
        assert second.reconcile().indexed == []
        assert second.reconcile().touched == 0  # the touched note's new stat was kept in the manifest
    finally:
        second.close()


def assert_scans_then_recovers(engine: Searcher) -> None:
    results = engine.search("混合专家")
    assert results.hits and results.hits[0].path == "学习笔记/moe.md"
    assert results.index_state in ("missing", "corrupt", "rebuilding")
    assert results.notice and "scanning" in results.notice
    wait_until(lambda: engine.status().state == "fresh")
    results = engine.search("混合专家")
    assert (results.index_state, results.notice) == ("fresh", None)
    assert results.hits[0].path == "学习笔记/moe.md"
    assert engine.status().files == len(NOTES)


def test_a_deleted_index_is_answered_by_a_scan_and_rebuilt(engine: Searcher, index_dir: Path) -> None:
    shutil.rmtree(index_dir)
    assert_scans_then_recovers(engine)


def test_an_index_without_its_table_of_contents_is_rebuilt(engine: Searcher, index_dir: Path) -> None:
    for toc in index_dir.glob("_MAIN_*.toc"):
        toc.unlink()
    assert_scans_then_recovers(engine)


@pytest.mark.parametrize("digest", ["table_digest", "segmenter_digest"])  # another OpenCC release's table; other
# words added to the segmenter
def test_an_index_folded_with_another_table_or_cut_with_other_words_is_rebuilt(
    root: Path, monkeypatch: pytest.MonkeyPatch, digest: str
) -> None:
    first = open_engine(root)
    first.warm_up()
    first.close()
    monkeypatch.setattr(index_module, digest, lambda: "another")
    with pytest.raises(index_module.IndexUnavailable, match="another version"):
        index_module.WhooshIndex(first.store.cache).open()
    engine = open_engine(root)
    engine.warm_up()  # rebuilds it
    reopened = index_module.WhooshIndex(engine.store.cache)
    try:
        reopened.open()  # written with the table searches now fold with
        assert engine.search("混合专家").hits[0].path == "学习笔记/moe.md"
    finally:
        reopened.close()
        engine.close()


@pytest.mark.parametrize("pattern", ["*", "*.trm", "*.pst"])
def test_an_index_with_garbage_in_its_files_is_rebuilt(engine: Searcher, index_dir: Path, pattern: str) -> None:
    for part in index_dir.glob(pattern):
        if part.is_file() and "LOCK" not in part.name:
            part.write_bytes(os.urandom(64) + b"garbage" * 20)
    assert_scans_then_recovers(engine)


def test_a_fault_in_the_ranking_code_is_no_damage_to_the_index(
    engine: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.search import engine as engine_module

    def faulty(*args: object, **kwargs: object) -> None:
        raise IndexError("a fault in the code ranking what was read")

    monkeypatch.setattr(engine_module, "rank", faulty)
    with pytest.raises(IndexError):
        engine.search("路由器")
    monkeypatch.undo()
    results = engine.search("路由器")  # the index was not taken for damaged, nor rebuilt
    assert (results.index_state, results.notice) == ("fresh", None)
    assert [hit.path for hit in results.hits] == ["学习笔记/moe.md"]


def test_an_engine_starting_on_a_damaged_index_rebuilds_it_while_searches_scan(root: Path, index_dir: Path) -> None:
    first = open_engine(root)
    first.warm_up()
    first.close()
    for part in index_dir.iterdir():
        if part.is_file() and "LOCK" not in part.name:
            part.write_bytes(b"\x00garbage")
    second = open_engine(root)
    try:
        second.warm_up()
        assert second.status().state == "fresh"
        assert second.search("KV缓存").hits[0].path == "学习笔记/kv.md"
    finally:
        second.close()


def test_rebuild_on_request_reports_progress_and_keeps_results(engine: Searcher) -> None:
    seen: list[tuple[int, int]] = []
    engine.rebuild(lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(NOTES), len(NOTES))
    assert engine.search("KV缓存").hits[0].path == "学习笔记/kv.md"


def test_rebuild_progress_ends_at_the_total_when_the_last_note_cannot_be_read(engine: Searcher, root: Path) -> None:
    from server.store import MAX_DOCUMENT_BYTES

    write(root, "学习笔记/zz-huge.md", "# 太大\n\n" + "字" * (MAX_DOCUMENT_BYTES // 3 + 1))  # over the limit: skipped
    seen: list[tuple[int, int]] = []
    engine.rebuild(lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(NOTES) + 1, len(NOTES) + 1)
    assert engine.search("KV缓存").hits[0].path == "学习笔记/kv.md"


def test_rebuild_on_an_empty_cache_builds_once_and_again_on_the_next_request(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = []
    build = index_module.WhooshIndex.rebuild

    def counted(self: index_module.WhooshIndex, *args: object, **kwargs: object) -> bool:
        builds.append(kwargs.get("force"))
        return build(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module.WhooshIndex, "rebuild", counted)
    searcher = Searcher(root)
    try:
        seen: list[tuple[int, int]] = []
        searcher.rebuild(lambda done, total: seen.append((done, total)))
        assert builds == [False] and seen[-1] == (len(NOTES), len(NOTES))
        searcher.rebuild()
        assert builds == [False, True]
        assert searcher.search("KV缓存").hits[0].path == "学习笔记/kv.md"
    finally:
        searcher.close()


def test_a_rebuild_asked_for_while_another_runs_builds_again_after_it(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build that began before the request read the notes before it: it must not stand in for the request.
    import threading

    from server.search import service

    searcher = Searcher(root)
    searcher.warm_up()
    read = service.load_note
    first_read = threading.Event()

    def slow(store: object, path: str) -> object:
        first_read.set()
        time.sleep(0.3)
        return read(store, path)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "load_note", slow)
    try:
        running = threading.Thread(target=searcher.rebuild)
        running.start()
        assert first_read.wait(10)
        time.sleep(0.7)  # it has read doomed.md and kv.md (0.3 s each), not yet moe.md and touched.md
        write(root, "学习笔记/kv.md", "# KV缓存\n\n独角兽数据结构。\n")
        searcher.rebuild()
        running.join()
        monkeypatch.setattr(service, "load_note", read)
        assert [hit.path for hit in searcher.search("独角兽").hits] == ["学习笔记/kv.md"]
    finally:
        searcher.close()


def test_a_locked_index_leaves_changes_pending_until_the_lock_is_released(
    engine: Searcher, root: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.search.service.WRITE_WAIT_SECONDS", 0.1)
    monkeypatch.setattr(index_module, "WRITER_TIMEOUT_SECONDS", 0.2)
    write(root, "学习笔记/kv.md", "# KV缓存\n\n投机解码也要缓存。\n")
    with locks.hold(index_dir.parent / "locks", index_module.LOCK_NAME, 5):
        engine.update(["学习笔记/kv.md"])
        assert engine.status().state == "pending 1"
        results = engine.search("KV缓存")
        assert results.hits and results.notice and "not indexed yet" in results.notice
        waiting = engine.search("投机解码")  # only in the text not indexed yet: nothing found, and it says why
        assert waiting.hits == [] and waiting.notice is not None
        assert "not indexed yet" in waiting.notice and "no note contains" not in waiting.notice
    engine.sweep()
    assert engine.status().state == "fresh"
    assert engine.search("投机解码").hits[0].path == "学习笔记/kv.md"


def test_a_search_during_the_catch_up_at_start_waits_for_the_notes_changed_while_no_engine_ran(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from server.search import IndexService

    first = open_engine(root)
    first.warm_up()
    first.close()
    write(root, "学习笔记/spec.md", "# 投机解码\n\n小模型起草，大模型验证。\n")
    monkeypatch.setattr("server.search.service.WRITE_WAIT_SECONDS", 30.0)
    started, release = threading.Event(), threading.Event()
    apply = IndexService._apply

    def held(service: IndexService, *args: object, **kwargs: object) -> object:
        if threading.current_thread().name == "warm-up":
            started.set()
            release.wait(30)
        return apply(service, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(IndexService, "_apply", held)
    engine = open_engine(root)
    warm = threading.Thread(target=engine.warm_up, name="warm-up")
    warm.start()
    try:
        assert started.wait(30)  # the index is open and taken as fresh; the catch-up has not written yet
        threading.Timer(0.2, release.set).start()  # the search below must wait for it
        assert [hit.path for hit in engine.search("投机解码").hits] == ["学习笔记/spec.md"]
    finally:
        release.set()
        warm.join(30)
        engine.close()


def test_many_threads_searching_at_once_never_take_the_index_for_damaged(
    engine: Searcher, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    queries = ["KV缓存", "混合专家 路由器", "学习率预热", "量化 int8", "缓存键和值", "专家", "为什么要预热学习率"]
    expected = {query: [hit.path for hit in engine.search(query).hits] for query in queries}
    failures: list[str] = []

    def search_many(offset: int) -> None:
        for n in range(40):
            query = queries[(n + offset) % len(queries)]
            results = engine.search(query)
            if [hit.path for hit in results.hits] != expected[query] or results.notice:
                failures.append(f"{query}: {results.index_state} {results.notice}")

    threads = [threading.Thread(target=search_many, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == [] and engine.status().state == "fresh"
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_warm_up_is_idempotent_and_safe_from_two_threads(root: Path) -> None:
    import threading

    engine = open_engine(root)
    try:
        threads = [threading.Thread(target=engine.warm_up) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        engine.warm_up()
        assert engine.status().state == "fresh"
    finally:
        engine.close()


def test_a_search_before_warm_up_warms_up_first(root: Path) -> None:
    engine = open_engine(root)
    try:
        assert engine.status().state == "starting"
        assert engine.search("KV缓存").hits[0].path == "学习笔记/kv.md"
    finally:
        engine.close()


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_constructing_an_engine_loads_no_dictionary_and_opens_no_index(root: Path) -> None:
    code = """
        import sys
        from pathlib import Path
        from server.memory import ProjectMemory
        root = Path(sys.argv[1])
        memory = ProjectMemory(root)
        print("rjieba" in sys.modules, memory.store.cache.folder.exists(), sorted(p.name for p in root.iterdir()))
    """
    process = run_python(code, str(root))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.strip().split(maxsplit=2) == ["False", "False", "['学习笔记']"]


def test_two_processes_writing_the_same_index_both_succeed(root: Path) -> None:
    code = """
        import sys
        from pathlib import Path
        sys.path.insert(0, "tests")
        from support import Searcher
        root, name = Path(sys.argv[1]), sys.argv[2]
        engine = Searcher(root)
        engine.warm_up()
        for i in range(8):
            path = f"学习笔记/{name}-{i}.md"
            (root / path).write_text(f"# {name} {i}\\n\\n并发写入测试 {name}{i}\\n", encoding="utf-8")
            engine.update([path])
        engine.sweep()
        print(engine.status().state)
        engine.close()
    """
    first = open_engine(root)
    first.warm_up()
    first.close()
    workers = [run_python(code, str(root), name) for name in ("alpha", "beta")]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert "LockError" not in err and "Traceback" not in err
    engine = open_engine(root)
    try:
        engine.warm_up()
        found = {hit.path for hit in engine.search("并发写入测试", limit=50).hits}
        assert len(found) == 16
        assert engine.last_reconcile is not None and engine.last_reconcile.indexed == []
    finally:
        engine.close()


def test_segment_columns_are_kept_once_and_read_back_at_the_next_start(
    root: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = open_engine(root)
    first.warm_up()
    expected = [hit.path for hit in first.search("混合专家").hits]
    first.close()
    kept = sorted((index_dir.parent / "columns").glob("*.npz"))
    assert kept, "each segment's columns are kept beside the index"

    from whoosh.reading import SegmentReader

    reads: list[str] = []
    original = SegmentReader.column_reader

    def counted(self: SegmentReader, name: str, *args: object, **kwargs: object) -> object:
        reads.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(SegmentReader, "column_reader", counted)
    second = open_engine(root)
    try:
        second.warm_up()
        results = second.search("混合专家")
        assert [hit.path for hit in results.hits] == expected and results.index_state == "fresh"
    finally:
        second.close()
    assert reads == [], "the columns were read from Whoosh again"
    kept[0].write_bytes(b"not an npz")  # a damaged copy is read from Whoosh again, never trusted
    third = open_engine(root)
    try:
        third.warm_up()
        results = third.search("混合专家")
        assert [hit.path for hit in results.hits] == expected and results.index_state == "fresh"
    finally:
        third.close()
    assert reads, "the damaged copy was read from Whoosh"
