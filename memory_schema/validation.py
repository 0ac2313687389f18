"""Limits and checks for text the model or the person asks us to write. Nothing is written past these."""

from memory_schema.errors import InvalidInput
from memory_schema.markdown import parse_markdown

MAX_TITLE_CHARS = 120
MAX_BODY_CHARS = 20_000
MAX_NOTE_CHARS = 200_000
MAX_TAGS = 12


def check_title(value: str, field: str = "title") -> str:
    """A single-line heading text: not empty, no line breaks, no leading `#`, at most MAX_TITLE_CHARS."""
    stripped = value.strip()
    if not stripped:
        raise InvalidInput(f"{field} is empty; give a short one-line {field}.")
    if any(char in stripped for char in "\r\n\u2028\u2029\x00"):
        raise InvalidInput(f"{field} must be one line; put the details in the body.")
    if stripped.startswith("#"):
        raise InvalidInput(f"{field} must not start with '#'; give the words only.")
    if any(char in stripped for char in "/\\") and field == "topic":
        raise InvalidInput("topic must not contain '/' or '\\'; it becomes a file name.")
    if len(stripped) > MAX_TITLE_CHARS:
        raise InvalidInput(f"{field} is {len(stripped)} characters; keep it under {MAX_TITLE_CHARS}.")
    return stripped


def check_body(value: str, field: str = "body", *, limit: int = MAX_BODY_CHARS, min_heading: int = 4) -> str:
    """Markdown text that may not open headings above `min_heading` (it would break the document's outline)."""
    stripped = value.strip("\r\n")
    if not stripped.strip():
        raise InvalidInput(f"{field} is empty; write what should be recorded.")
    if "\x00" in stripped:
        raise InvalidInput(f"{field} contains a NUL character; send plain text.")
    if len(stripped) > limit:
        raise InvalidInput(f"{field} is {len(stripped)} characters; keep it under {limit} or split it.")
    if min_heading <= 1:  # a whole note: nothing of it can break an outline around it
        return stripped
    # The text goes into the middle of a document, where a leading `---` block is not frontmatter: the
    # line break in front keeps the parser from taking one (and hiding the headings in it) here either.
    # The probe heading after it must still be a heading, or the text leaves a code fence or HTML open.
    probe = "\n" + stripped + "\n\n# probe"
    headings = list(parse_markdown(probe).headings())
    for section in headings[:-1]:
        if section.level < min_heading:
            raise InvalidInput(
                f"{field} line {section.line - 1} is a level-{section.level} heading "
                f"({section.raw_title!r}); use bold text, a list, or headings of level {min_heading} or deeper."
            )
    if not headings or headings[-1].start != len(probe) - len("# probe"):
        raise InvalidInput(
            f"{field} leaves a code block or HTML block open; close it (```) so the text after it "
            "stays readable."
        )
    return stripped


def check_tags(tags: list[str] | None) -> list[str]:
    cleaned = [check_title(tag, "tag") for tag in tags or []]
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"{len(cleaned)} tags given; use at most {MAX_TAGS}.")
    return list(dict.fromkeys(cleaned))
