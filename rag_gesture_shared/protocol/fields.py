"""Typed access to one request's fields; every failure names the field and the request.

Requests are validated completely when they arrive, so a bad field is reported at once,
naming it, instead of failing minutes later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .envelope import ProtocolError, message_id


def is_number(value: Any) -> bool:
    """A finite JSON number (bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Fields:
    """The fields of request `msg` of type `kind`, read with the checks their type needs.

    `options` is for the command line, which checks its arguments with these same rules:
    messages then name the option (field -> option; others become `--field-name`) and carry
    no request prefix.
    """

    def __init__(self, msg: dict[str, Any], kind: str,
                 options: Mapping[str, str] | None = None) -> None:
        self.msg = msg
        self.options = options
        rid = message_id(msg)
        self.where = f"{kind} request '{rid}'" if rid else f"{kind} request"

    def label(self, name: str) -> str:
        """How a message names field `name` ('fps', or --fps on the command line)."""
        if self.options is None:
            return f"'{name}'"
        base = name.split("[", 1)[0]
        return self.options.get(base, "--" + base.rsplit(".", 1)[-1].replace("_", "-"))

    def error(self, text: str) -> ProtocolError:
        """A bad_request about this request: "<kind> request '<id>': <text>"."""
        return ProtocolError("bad_request", text if self.options is not None
                             else f"{self.where}: {text}")

    def fail(self, name: str, want: str) -> ProtocolError:
        got = self.msg.get(name)
        shown = json.dumps(got)[:60] if name in self.msg else "nothing"
        return self.error(f"{self.label(name)} must be {want}, got {shown}")

    def has(self, name: str) -> bool:
        return self.msg.get(name) is not None

    def string(self, name: str, required: bool = False) -> str | None:
        value = self.msg.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "a non-empty string")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.msg.get(name)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(name, f"a whole number from {lo} to {hi}")
        return value

    def number(self, name: str, default: float, lo: float, hi: float,
               lo_open: bool = False) -> float:
        value = self.msg.get(name)
        if value is None:
            return default
        ok = is_number(value) and (value > lo if lo_open else value >= lo) and value <= hi
        if not ok:
            bound = f"above {lo:g}" if lo_open else f"from {lo:g}"
            raise self.fail(name, f"a number {bound} to {hi:g}")
        return float(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.msg.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def timed_list(self, name: str, text_key: str) -> list[dict] | None:
        """[{text_key, start, end}, ...] with finite times, start <= end."""
        value = self.msg.get(name)
        if value is None:
            return None
        want = f'a non-empty list of {{"{text_key}", "start", "end"}} objects'
        if not isinstance(value, list) or not value:
            raise self.fail(name, want)
        out = []
        for i, item in enumerate(value):
            bad = self.error(f"{self.label(name)}[{i}] must be an object with a string "
                             f'"{text_key}" and numbers "start" <= "end"')
            if not isinstance(item, dict) or not isinstance(item.get(text_key), str):
                raise bad
            times = [item.get("start"), item.get("end")]
            if not all(is_number(t) for t in times) or times[0] > times[1]:
                raise bad
            out.append({text_key: item[text_key], "start": float(times[0]),
                        "end": float(times[1])})
        return out
