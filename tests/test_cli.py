"""The project-memory command, in process with click's CliRunner."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from support import SEED, copy_example, snapshot_tree


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_doctor_finds_no_problems_in_the_bundled_example(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    code, out, _ = run("doctor", "--root", str(root))
    assert code == 0, out
    assert "No problems found." in out


def test_doctor_finds_no_problems_in_the_seed_layout(tmp_path: Path) -> None:
    if not SEED.exists():
        pytest.skip("../shared is not present")
    root = copy_example(tmp_path)
    shutil.copyfile(SEED, root / "AI助手工作记忆.md")
    code, out, _ = run("doctor", "--root", str(root), "--json")
    report = json.loads(out)
    assert code == 0 and report["problems"] == [], report["problems"]


def test_doctor_reports_a_broken_document_with_its_file(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    (root / "学习笔记" / "坏文件.md").write_bytes(b"\xff\xfe\x00binary")
    code, out, _ = run("doctor", "--root", str(root))
    assert code == 1 and "学习笔记/坏文件.md" in out


def test_doctor_names_each_link_whose_notes_are_not_read(tmp_path: Path) -> None:
    """A symlinked discussions folder made every listed discussion 'not in 深度讨论/' with no word of why."""
    root = copy_example(tmp_path)
    outside = tmp_path / "elsewhere"
    shutil.move(root / "深度讨论", outside)
    try:
        (root / "深度讨论").symlink_to(outside, target_is_directory=True)
    except OSError:
        pytest.skip("this system does not let the test make symlinks")
    (root / "学习笔记" / "outside.md").symlink_to(outside / "KV缓存内存计算精确分析.md")
    (root / "学习笔记" / "dangling.md").symlink_to("nowhere.md")
    (root / "学习笔记" / "inside.md").symlink_to(root / "学习进度.md")  # read where it lives: nothing to say
    code, out, _ = run("doctor", "--root", str(root), "--json")
    warned = {problem["path"]: problem["message"] for problem in json.loads(out)["problems"]}
    assert "links to folders are not followed" in warned["深度讨论"] and str(outside) in warned["深度讨论"]
    assert "outside the memory root" in warned["学习笔记/outside.md"]
    assert "does not exist" in warned["学习笔记/dangling.md"]
    assert "学习笔记/inside.md" not in warned
    assert code == 1  # any problem, warnings included


def test_doctor_names_a_sync_clients_conflict_copies(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    text = (root / "AI助手工作记忆.md").read_text(encoding="utf-8")
    copies = ["AI助手工作记忆 (Lin's conflicted copy 2026-12-05).md",
              "深度讨论/量化技术深度解析.sync-conflict-20261205-101010-ABCDEFG.md"]
    for name in copies:
        (root / name).write_text(text, encoding="utf-8")
    code, out, _ = run("doctor", "--root", str(root), "--json")
    warned = {problem["path"]: problem["message"] for problem in json.loads(out)["problems"]}
    assert code == 1 and all("conflict copy" in warned[name] for name in copies), warned
    assert not any("conflict" in message for path, message in warned.items() if path not in copies)


def test_search_json_lists_hits_with_paths_relative_to_the_root(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    code, out, _ = run("search", "KV缓存", "--root", str(root), "--json", "--limit", "3")
    hits = json.loads(out)
    assert code == 0 and 0 < len(hits) <= 3
    assert {"path", "heading", "score", "snippet", "kind"} <= set(hits[0])
    assert all(not hit["path"].startswith("/") and (root / hit["path"]).exists() for hit in hits)


def test_context_prints_the_briefing(tmp_path: Path) -> None:
    code, out, _ = run("context", "--root", str(copy_example(tmp_path)), "--max-tokens", "800")
    assert code == 0 and "2/17" in out


def test_init_scaffolds_each_preset_and_never_overwrites(tmp_path: Path) -> None:
    for preset, working in (("cs336-zh", "AI助手工作记忆.md"), ("default-en", "working-memory.md")):
        target = tmp_path / preset
        code, _, _ = run("init", str(target), "--preset", preset)
        assert code == 0 and (target / working).exists()
        assert "{today}" not in (target / working).read_text(encoding="utf-8")
        code, _, err = run("init", str(target), "--preset", preset)
        assert code == 2 and "never overwrites" in err
        code, out, _ = run("doctor", "--root", str(target))
        assert code == 0, out


def test_status_json_and_html(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    code, out, _ = run("status", "--root", str(root), "--json")
    report = json.loads(out)
    assert code == 0 and (report["done"], report["total"]) == (2, 17)
    page = tmp_path / "status.html"
    code, _, _ = run("status", "--root", str(root), "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert code == 0 and "<svg" in html and "http" not in html.split("<body>")[1].split("xmlns")[0]


def test_reindex_rebuilds_the_index(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    code, _, err = run("reindex", "--root", str(root))
    assert code == 0 and "Indexed 18 files" in err


def test_a_missing_root_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, err = run("context", "--root", str(tmp_path / "nope"))
    assert code != 0 and "is not a folder" in err


def test_read_commands_never_modify_the_notes(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    before = snapshot_tree(root)
    for args in (["doctor"], ["context"], ["status", "--json"], ["search", "BPE"]):
        run(*args, "--root", str(root))
    assert snapshot_tree(root) == before


def test_python_dash_m_server_with_only_a_root_serves_over_stdio(tmp_path: Path) -> None:
    import subprocess
    import sys

    from support import REPO

    root = copy_example(tmp_path)
    request = ('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
               '"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n')
    done = subprocess.run([sys.executable, "-m", "server", "--root", str(root)], input=request, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert '"serverInfo"' in done.stdout and "project-memory" in done.stdout


def test_the_generic_preset_takes_the_course_title_and_size(tmp_path: Path) -> None:
    target = tmp_path / "compilers"
    code, _, _ = run("init", str(target), "--preset", "default-en", "--title", "Compilers", "--lectures", "5")
    assert code == 0
    texts = "".join(path.read_text(encoding="utf-8") for path in target.rglob("*.md"))
    assert "CS336" not in texts and "{" not in texts.replace("{today}", "")
    code, out, _ = run("status", "--root", str(target), "--json")
    report = json.loads(out)
    assert (report["course"], report["total"], report["layout"]) == ("Compilers", 5, "default-en")
    code, out, _ = run("context", "--root", str(target))
    assert code == 0 and out.startswith("# Compilers") and "0/5 lectures" in out and "Lecture 01 (not started)" in out
