#!/bin/sh
# Runs the project-memory executable for this plugin. The MCP server (.mcp.json) and the SessionStart hook
# (hooks/hooks.json, through session-start.sh) both start it through this file, with the environment Claude
# Code gives them, so they always run the same program on the same memory folder.
#
# Which executable, first match wins:
#   1. $PROJECT_MEMORY_BIN: a path (a leading ~/ means $HOME), or a command name looked up on PATH;
#   2. project-memory on PATH;
#   3. .venv/bin/project-memory of the checkout this plugin folder sits in (plugin/../.venv), which exists
#      only while the plugin runs from a clone of the repository, not from a copy of the plugin folder.
# Otherwise: one line on stderr saying what to set, exit status 1.
#
# Set PROJECT_MEMORY_BIN (and PROJECT_MEMORY_ROOT) in the "env" block of ~/.claude/settings.json or of the
# project's .claude/settings.json: Claude Code passes that block to MCP servers and hooks alike.
# Plain POSIX sh with no external commands, so it works with any PATH.

set -u

if [ -n "${PROJECT_MEMORY_BIN:-}" ]; then
    case $PROJECT_MEMORY_BIN in
        "~/"*) bin=${HOME:-}/${PROJECT_MEMORY_BIN#"~/"} ;;
        */*) bin=$PROJECT_MEMORY_BIN ;;
        *) bin=$(command -v "$PROJECT_MEMORY_BIN" 2>/dev/null) || bin= ;;
    esac
    if [ -n "$bin" ] && [ -f "$bin" ] && [ -x "$bin" ]; then
        exec "$bin" "$@"
    fi
    echo "project-memory plugin: PROJECT_MEMORY_BIN=$PROJECT_MEMORY_BIN is not an executable file;" \
        "set it to the absolute path of .venv/bin/project-memory in the \"env\" block of ~/.claude/settings.json" >&2
    exit 1
fi

if bin=$(command -v project-memory 2>/dev/null) && [ -n "$bin" ]; then
    exec "$bin" "$@"
fi

case $0 in
    */*) here=${0%/*} ;;
    *) here=. ;;
esac
checkout=$here/../../.venv/bin/project-memory
if [ -f "$checkout" ] && [ -x "$checkout" ]; then
    exec "$checkout" "$@"
fi

echo "project-memory plugin: no project-memory executable (PROJECT_MEMORY_BIN is unset and project-memory is" \
    "not on PATH); set \"PROJECT_MEMORY_BIN\": \"/abs/path/to/project-memory/.venv/bin/project-memory\" in the" \
    "\"env\" block of ~/.claude/settings.json" >&2
exit 1
