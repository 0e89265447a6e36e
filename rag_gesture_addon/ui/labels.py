"""Text in the sidebar and the preferences: sentences wrapped onto labels, and the icon of
each message level."""

from __future__ import annotations

from typing import Any

# Blender's own report icons (UI_icon_from_report_type): errors CANCEL, warnings ERROR
# (the triangle), the rest INFO. Error rows are also drawn in the alert colour.
LEVEL_ICONS = {"ERROR": "CANCEL", "WARNING": "ERROR", "INFO": "INFO"}
SIDEBAR_WIDTH = 42  # characters per label in the sidebar's default width


def wrap(text: str, width: int = SIDEBAR_WIDTH) -> list[str]:
    """Words of `text` on lines of at most `width` characters (a longer word, e.g. a path,
    gets a line of its own)."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return [*lines, line] if line else lines


def wrapped_label(layout: Any, text: str, icon: str = "NONE", width: int = SIDEBAR_WIDTH,
                  alert: bool = False) -> None:
    """`text` as labels of at most `width` characters; the icon on the first, the others
    indented to match."""
    col = layout.column(align=True)
    col.alert = alert
    for i, line in enumerate(wrap(text, width)):
        col.label(text=line, icon=icon if i == 0 else ("BLANK1" if icon != "NONE" else "NONE"))
