#!/bin/sh
# The plugin's SessionStart hook: prints the memory briefing (the 回顾 step), which Claude Code adds to the new
# session's context. It runs `project-memory context` through project-memory.sh, the launcher the MCP server
# uses, so hook and server find the same executable and the same memory folder: --root is never passed, both
# read PROJECT_MEMORY_ROOT, else CLAUDE_PROJECT_DIR (set by Claude Code), else the current folder.
#
# A failure never blocks the session and never dumps a traceback: the briefing is simply missing, one line on
# stderr (the last line the command printed there) says why, and the exit status is 1, which Claude Code treats
# as a non-blocking hook error. Plain POSIX sh with no external commands.

set -u

case $0 in
    */*) here=${0%/*} ;;
    *) here=. ;;
esac

# The briefing goes straight to stdout (through fd 3); only stderr is captured.
exec 3>&1
errors=$(sh "$here/project-memory.sh" context --max-tokens 1500 </dev/null 2>&1 1>&3 3>&-)
status=$?
exec 3>&-

if [ "$status" -eq 0 ]; then
    exit 0
fi
reason=
while IFS= read -r line; do
    case $line in *[![:space:]]*) reason=$line ;; esac
done <<EOF
$errors
EOF
case $reason in
    "project-memory plugin:"*) ;;
    *) reason="project-memory plugin: no briefing: ${reason:-project-memory context exited $status}" ;;
esac
echo "$reason" >&2
exit 1
