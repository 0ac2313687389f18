"""Limits and checks for text the model or the person asks us to write. Nothing is written past these."""

import unicodedata

from memory_schema.errors import InvalidInput
from memory_schema.markdown import parse_markdown

MAX_TITLE_CHARS = 120
MAX_BODY_CHARS = 20_000
MAX_NOTE_CHARS = 200_000
MAX_TAGS = 12


NAME_MAX_BYTES = 255
_NAME_FORBIDDEN = set('/\\?*|:<>"')
_INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
                 "\u2066\u2067\u2068\u2069")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def check_title(value: str, field: str = "title") -> str:
    """A single-line heading text: not empty, no line breaks, control, bidi or zero-width characters, no
    leading `#`, at most MAX_TITLE_CHARS."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, not {type(value).__name__}.")
    stripped = value.strip()
    if not stripped:
        raise InvalidInput(f"{field} is empty; give a short one-line {field}.")
    if any(char in stripped for char in "\r\n\u2028\u2029\x00"):
        raise InvalidInput(f"{field} must be one line; put the details in the body.")
    if any(unicodedata.category(char) == "Cc" for char in stripped):
        raise InvalidInput(f"{field} contains a control character; send plain text.")
    if any(unicodedata.category(char) == "Cs" for char in stripped):
        raise InvalidInput(f"{field} contains a lone UTF-16 surrogate, which UTF-8 cannot hold; send valid text.")
    hidden = sorted({f"U+{ord(char):04X}" for char in stripped if char in _INVISIBLE})
    if hidden:
        raise InvalidInput(f"{field} contains invisible or direction-changing characters ({', '.join(hidden)}); "
                           "remove them.")
    if stripped.startswith("#"):
        raise InvalidInput(f"{field} must not start with '#'; give the words only.")
    if len(stripped) > MAX_TITLE_CHARS:
        raise InvalidInput(f"{field} is {len(stripped)} characters; keep it under {MAX_TITLE_CHARS}.")
    return stripped


def check_file_name(value: str, field: str, template: str) -> str:
    """A title that becomes a file name (`template` with `{topic}` in it, e.g. `{topic}深度讨论.md`): a title,
    and a name every file system can hold: no leading dot (a hidden file nothing lists), none of `/\\?*|:<>"`,
    no trailing dot or space, no reserved Windows name, and at most NAME_MAX_BYTES bytes in UTF-8 once named."""
    title = check_title(value, field)
    if title.startswith("."):
        raise InvalidInput(f"{field} must not start with '.'; it would make a hidden file that nothing lists.")
    bad = sorted({char for char in title if char in _NAME_FORBIDDEN})
    if bad:
        raise InvalidInput(f"{field} contains {' '.join(bad)}, which file names cannot hold on every system; "
                           "use other characters (e.g. '-' or '、').")
    if title.endswith((".", " ")) or title.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        raise InvalidInput(f"{field} {title!r} is not a valid file name on Windows; change its ending or wording.")
    extra = len(template.replace("{topic}", "").encode("utf-8"))
    size = len(title.encode("utf-8"))
    if size + extra > NAME_MAX_BYTES:
        limit = NAME_MAX_BYTES - extra
        raise InvalidInput(f"{field} is {size} bytes in UTF-8; as a file name it may be at most {limit} bytes "
                           f"(about {limit // 3} Chinese characters or {limit} ASCII letters). Shorten it.")
    return title


def check_body(value: str, field: str = "body", *, limit: int = MAX_BODY_CHARS, min_heading: int = 4) -> str:
    """Markdown text that may not open headings above `min_heading` (it would break the document's outline)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, not {type(value).__name__}.")
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
