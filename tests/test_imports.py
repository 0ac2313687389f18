"""Import rules: each third-party library behind its module, notes written by the store alone, the pure model
free of the server, and no import cycles. Read from the source (ast), so a rule holds even for code no test runs."""

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "memory_schema")

# Libraries many modules may use, each for a reason: pydantic is how every model and result is declared; numpy
# is the array type the ranking pipeline passes between its stages; mcp and anyio are the MCP edge's framework.
SHARED_LIBRARIES = {
    "pydantic": None,
    "numpy": {"server.search.engine", "server.search.note_evidence", "server.search.postings",
              "server.search.ranking"},
    "mcp": {"server.app", "server.tools", "server.prompts"},
    "anyio": {"server.app", "server.tools"},
}
ONE_MODULE = {
    "whoosh": {"server.search.whoosh_index", "server.search.whoosh_private"},  # the index and its private API
    "watchdog": {"server.watcher"},
}
# Calls that create, replace or delete files: Path methods with unambiguous names, and os/shutil/tempfile
# functions (`str.replace` and `list.remove` share names with `Path.replace` and `os.remove`, so those count
# only when called on the module).
PATH_WRITES = {"write_text", "write_bytes", "unlink", "rmdir", "touch", "symlink_to", "hardlink_to"}
MODULE_WRITES = {
    "os": {"replace", "rename", "renames", "remove", "unlink", "rmdir", "removedirs", "link", "symlink", "truncate",
           "open", "write", "ftruncate"},
    "shutil": {"rmtree", "move", "copy", "copy2", "copyfile", "copytree"},
    "tempfile": {"mkstemp", "NamedTemporaryFile", "mkdtemp", "TemporaryDirectory"},
}
WRITERS = {
    "server.store": "notes: the only module that commits them",
    "server.fs": "the store's directory-handle primitives (temp file, exchange, link)",
    "server.cache": "the per-root cache folder outside the notes",
    "server.locks": "lock files in the cache",
    "server.journal": "the undo journal in the cache",
    "server.search.whoosh_index": "the index in the cache",
    "server.search.postings": "each index segment's columns, kept in the cache",
    "server.legacy": "removes the index folder old versions kept inside the root (clean-legacy)",
    "server.sandbox": "a temporary copy of the root for `serve --sandbox`",
    "server.cli": "files the person names on the command line (`status --html FILE`)",
}


def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


MODULES = modules()


def imported(tree: ast.Module, *, top_level_only: bool = False) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def third_party() -> dict[str, set[str]]:
    users: dict[str, set[str]] = defaultdict(set)
    for module, tree in MODULES.items():
        for name in imported(tree):
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in (*PACKAGES, "__future__"):
                users[top].add(module)
    return users


def test_each_third_party_library_sits_behind_one_module() -> None:
    for library, users in third_party().items():
        if library in SHARED_LIBRARIES:
            allowed = SHARED_LIBRARIES[library]
            assert allowed is None or users <= allowed, (library, sorted(users))
        elif library in ONE_MODULE:
            assert users <= ONE_MODULE[library], (library, sorted(users))
        else:
            assert len(users) == 1, f"{library} is imported by {sorted(users)}: keep it behind one module"


def test_the_pure_memory_model_imports_nothing_of_the_server() -> None:
    for module, tree in MODULES.items():
        if module.startswith("memory_schema"):
            assert not any(name.split(".")[0] == "server" for name in imported(tree)), module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_modules_that_own_files_create_replace_or_delete_them(module: str) -> None:
    writes = set()
    for node in ast.walk(MODULES[module]):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if func.attr in PATH_WRITES or func.attr in MODULE_WRITES.get(owner or "", ()):
                writes.add(f"{owner or '…'}.{func.attr}")
            name = func.attr
        else:
            name = getattr(func, "id", "")
        modes = [*node.args[1:2], *(kw.value for kw in node.keywords if kw.arg == "mode")]
        if name in ("open", "fdopen") and any(isinstance(m, ast.Constant) and isinstance(m.value, str)
                                              and set(m.value) & set("wax+") for m in modes):
            writes.add("open for writing")
    if module in WRITERS:
        assert writes, f"{module} no longer writes files: take it off WRITERS"
    else:
        assert not writes, f"{module} writes files ({sorted(writes)}); notes go through server.store"


def test_there_are_no_import_cycles() -> None:
    graph = {module: {name for name in imported(tree, top_level_only=True) if name in MODULES} - {module}
             for module, tree in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
