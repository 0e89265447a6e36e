"""Transcript files (TXT, SRT, WebVTT, Praat TextGrid, JSON words) -> `Transcript`.

Normalisation is deliberately minimal, because the text is shown back to the user and the
alignment / BERT stages apply their own normalisation:

* Unicode and punctuation stay attached to words exactly as written ("Hello," "naïve" "日本").
* Numbers stay as written ("42", "3.5"); nothing is spelled out.
* Whitespace (any Unicode whitespace) separates words and is collapsed; empty words are dropped.
* Subtitle markup is removed: HTML-like tags (<i>, <font ...>, WebVTT <v Name>, <c.x>, inline
  <00:00:01.000> timestamps), SRT {\\an8}-style override codes, and WebVTT character
  references (&amp; -> &).

Timed formats keep their timings in seconds. Cues may overlap (kept, ordered by start), but
each cue or word must end no earlier than it starts and no time may be negative. Against a
recording, `fit_timings` is the one rule for every timed input (files and a request's words
and phrases alike): nothing may lie outside the audio. A transcript needs at least one word
with a letter or digit (`require_words`).

Every problem is a `TranscriptError` whose message names the file and, where there is one,
the line (or, for JSON, the entry) that went wrong, so the user can fix the file directly.
"""

from __future__ import annotations

import codecs
import html
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .words import Phrase, Transcript, Word

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "TranscriptError",
    "parse_text",
    "read_transcript",
]

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".txt", ".srt", ".vtt", ".textgrid", ".json")

# Interval labels that aligners (MFA, Gentle, HTK) write for silence in a word tier; they
# separate phrases exactly like an empty interval instead of becoming words.
TEXTGRID_SILENCE_LABELS = frozenset({"sil", "sp", "<sil>", "<sp>", "<eps>", "#"})


class TranscriptError(ValueError):
    """A transcript cannot be read; the message names the file and the line or entry."""

    def __init__(self, source: str, problem: str, line: int | None = None,
                 where: str | None = None) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        location = f", line {line}" if line is not None else ""
        if where:
            location += f", {where}"
        super().__init__(f"{source}{location}: {problem}")


# --------------------------------------------------------------------------- public API


def read_transcript(path: str | os.PathLike[str]) -> Transcript:
    """Read a transcript file, choosing the reader from the extension (case-insensitive).

    A missing file or a folder is a TranscriptError; other file-system errors (permissions)
    propagate as `OSError`.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise TranscriptError(source, "is a directory, not a transcript file")
    if not path.exists():
        raise TranscriptError(source, "the file does not exist")
    ext = path.suffix.lower()
    reader = _READERS.get(ext)
    if reader is None:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise TranscriptError(
            source,
            f"unsupported transcript type ({shown}); supported: "
            + ", ".join(".TextGrid" if e == ".textgrid" else e for e in SUPPORTED_EXTENSIONS)
            + " (any letter case)",
        )
    raw = path.read_bytes()
    if ext == ".textgrid" and raw.lstrip().startswith(b"ooBinaryFile"):
        raise TranscriptError(
            source, "this is a binary TextGrid; in Praat use 'Save as text file...' instead"
        )
    text = _decode(raw, source)
    if not text.strip():  # before format checks: "no words" beats "no WEBVTT header"
        raise TranscriptError(source, "has no words")
    return require_words(reader(text, source))


def parse_text(text: str, source: str = "<text>") -> Transcript:
    """Plain text typed in a UI: one untimed Phrase per non-empty line (same as a .txt file).

    Raises `TranscriptError` ("<text>: has no words") for blank text, like an empty file.
    """
    return require_words(_parse_txt(text, source))


def build_transcript(transcript: str | os.PathLike[str] | None = None, text: str | None = None,
                     words: list[dict] | None = None,
                     phrases: list[dict] | None = None) -> Transcript | None:
    """The words of a request, from whichever source it gives (a transcript file, typed text,
    timed words [{word, start, end}] or timed phrases [{text, start, end}], e.g. Blender
    text strips); None when it gives none (the words are then recognised from the audio)."""
    if transcript:
        return read_transcript(transcript)
    if words:
        timed = [Word(str(w["word"]), float(w["start"]), float(w["end"]), where=f"words[{i}]")
                 for i, w in enumerate(words)]
        return require_words(Transcript([Phrase(timed, timed[0].start, timed[-1].end)],
                                         "<words>"))
    if phrases:
        spans = [Phrase([Word(t) for t in str(p["text"]).split()], float(p["start"]),
                        float(p["end"]), where=f"phrases[{i}]") for i, p in enumerate(phrases)]
        return require_words(Transcript([p for p in spans if p.words], "<phrases>"))
    if text:
        return parse_text(text)
    return None


def require_words(transcript: Transcript) -> Transcript:
    """`transcript` if it holds a word with a letter or digit, else TranscriptError: a text
    of only punctuation ("...", "?!") gives nothing to align or to gesture to."""
    words = transcript.words
    if not words:
        raise TranscriptError(transcript.source, "has no words")
    if not any(ch.isalnum() for w in words for ch in w.text):
        raise TranscriptError(transcript.source, "has no words, only punctuation or symbols")
    return transcript


# --------------------------------------------------------------------------- timings vs audio

OVERLAP_SLACK = 0.01  # seconds two items may share before it counts as an overlap


def _label(item: Word | Phrase) -> str:
    """'the cue "Look at this"' or 'the word "circle"' (long texts shortened)."""
    text = item.text if len(item.text) <= 30 else item.text[:27] + "..."
    return f'the {"word" if isinstance(item, Word) else "cue"} "{text}"'


def _where(item: Word | Phrase, source: str) -> str:
    return f"{source}, {item.where}" if item.where else source


def _timed_items(transcript: Transcript) -> list[Word | Phrase]:
    """What carries the timings: the words of fully word-timed phrases, else timed phrases."""
    items: list[Word | Phrase] = []
    for p in transcript.phrases:
        if p.words and all(w.timed for w in p.words):
            items += p.words
        elif p.start is not None and p.end is not None:
            items.append(p)
    return items


def fit_timings(transcript: Transcript, duration: float,
                allow_mismatch: bool = False) -> tuple[Transcript, list[str]]:
    """The one rule for every timed input (subtitle cues, TextGrid and JSON words, a
    request's words and phrases) against an audio of `duration` seconds.

    A cue or word must start inside the audio: not before 0, not at or after its end;
    otherwise TranscriptError naming the item, its time and the audio length, and what to
    do. With `allow_mismatch` such items are dropped, with a note. One that starts inside
    and runs past the end is kept (alignment and the word features stop at the end of the
    audio, as for a text strip longer than its sound). Overlapping items are kept, with a
    note.
    """
    source = transcript.source
    items = _timed_items(transcript)
    outside: dict[int, Word | Phrase] = {}
    for item in items:
        start, end = float(item.start), float(item.end)  # type: ignore[arg-type]
        if start < 0:
            problem = f"starts before the audio, at {start:g} s"
        elif start >= duration:
            problem = f"at {start:g}-{end:g} s is past the end of the audio"
        else:
            continue
        if not allow_mismatch:
            raise TranscriptError(source, f"{_label(item)} {problem} ({duration:.2f} s long); "
                                  "fix or remove its timing, or allow a transcript mismatch "
                                  "to skip it", where=item.where)
        outside[id(item)] = item
    notes = []
    if outside:
        first = next(iter(outside.values()))
        notes.append(f"{_where(first, source)}: skipped {len(outside)} cue(s) or word(s) "
                     f"outside the {duration:.2f} s of audio, from {_label(first)} at "
                     f"{first.start:g} s")
        phrases = []
        for p in transcript.phrases:
            kept = [w for w in p.words if id(w) not in outside]
            if id(p) in outside or not kept:
                continue
            whole = len(kept) == len(p.words)
            phrases.append(Phrase(kept, p.start if whole else kept[0].start,
                                  p.end if whole else max(w.end for w in kept), p.where))
        if not phrases:
            raise TranscriptError(source, f"has no words inside the {duration:.2f} s of "
                                  "audio; check that it belongs to this recording")
        transcript = Transcript(phrases, source)
    inside = sorted((x for x in items if id(x) not in outside), key=lambda x: x.start)
    overlaps = [(a, b) for a, b in zip(inside, inside[1:], strict=False)
                if b.start < a.end - OVERLAP_SLACK]  # type: ignore[operator]
    if overlaps:
        a, b = overlaps[0]
        notes.append(f"{_where(b, source)}: {_label(b)} at {b.start:g} s starts before the "
                     f"one before it ends ({a.end:g} s); {len(overlaps)} overlap(s) in all, "
                     "each cue keeps its own timing")
    return transcript, notes


# --------------------------------------------------------------------------- shared helpers


def _decode(raw: bytes, source: str) -> str:
    """UTF-8 (with or without BOM), or UTF-16/32 when the matching BOM is present.

    No 8-bit fallback: guessing Latin-1 would silently turn "café" into "cafÃ©".
    """
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise TranscriptError(
                    source, f"is not valid {codec.upper()} text ({exc.reason}); save it as UTF-8"
                ) from None
            break
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise TranscriptError(
                source,
                f"is not UTF-8 or UTF-16 text (cannot decode byte 0x{raw[exc.start]:02x}); "
                "save it as UTF-8",
                line=line,
            ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TranscriptError(
            source,
            "contains NUL characters (UTF-16 without a byte-order mark?); save it as UTF-8",
            line=line,
        )
    return text.lstrip("\ufeff")


def _lines(text: str) -> list[str]:
    """Split on LF, CRLF or CR only (str.splitlines would also split on \\x0c, U+2028...)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _words(text: str) -> list[Word]:
    return [Word(token) for token in text.split()]


def _sorted_by_start(phrases: list[Phrase]) -> list[Phrase]:
    """Overlapping cues are allowed; keep them all, stably ordered by start time."""
    return sorted(phrases, key=lambda p: p.start if p.start is not None else math.inf)


def _fmt(seconds: float) -> str:
    return f"{seconds:g} s"


def _check_span(start: float, end: float, source: str, what: str,
                line: int | None = None, where: str | None = None) -> None:
    """Per cue/word timings must run forwards and be non-negative (cues may overlap)."""
    if start < 0 or end < 0:
        raise TranscriptError(
            source, f"{what} has a negative time ({_fmt(start)} to {_fmt(end)})", line, where
        )
    if end < start:
        raise TranscriptError(
            source, f"{what} ends ({_fmt(end)}) before it starts ({_fmt(start)})", line, where
        )


# --------------------------------------------------------------------------- plain text


def _parse_txt(text: str, source: str) -> Transcript:
    phrases = []
    for line in _lines(text.lstrip("\ufeff")):
        words = _words(line)
        if words:
            phrases.append(Phrase(words))
    return Transcript(phrases, source=source)


# --------------------------------------------------------------------------- SRT / WebVTT

# One timestamp: optional hours, minutes, seconds, then ',' (SRT) or '.' (VTT) and 1-3
# fraction digits. Both separators are accepted in both formats: tools mix them up.
_TS = r"(-?)(?:(\d+):)?(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s+.*)?$")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>")
_SRT_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_CUE_NUMBER = re.compile(r"^\s*\d+\s*$")


@dataclass
class _Cue:
    line: int
    start: float
    end: float
    text: list[str]


def _seconds(sign: str, hours: str | None, minutes: str, secs: str, frac: str) -> float | None:
    if int(minutes) >= 60 or int(secs) >= 60:
        return None
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(frac) / 10 ** len(frac)
    return -value if sign else value


def _parse_timing(line: str, lineno: int, source: str, example: str) -> tuple[float, float]:
    m = _TIMING.match(line)
    start = end = None
    if m:
        g = m.groups()
        start, end = _seconds(*g[:5]), _seconds(*g[5:])
    if start is None or end is None:
        raise TranscriptError(
            source,
            f"cannot read the timing '{line.strip()}' (expected like '{example}')",
            line=lineno,
        )
    _check_span(start, end, source, "the cue", line=lineno)
    return start, end


def _blocks(lines: list[str]) -> Iterator[list[tuple[int, str]]]:
    """Groups of non-blank lines, each line paired with its 1-based number."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _cues_in_block(
    block: list[tuple[int, str]], source: str, example: str, header: bool = False
) -> list[_Cue]:
    """Cues in one blank-line-separated block.

    Before the first timing line only a cue number / identifier may appear (any lines in
    the WebVTT header block). A missing blank line between cues is tolerated: a later
    timing line starts a new cue, and a bare number just before it is its cue number.
    """
    cues: list[_Cue] = []
    leading: list[tuple[int, str]] = []
    for number, line in block:
        if "-->" in line:
            start, end = _parse_timing(line, number, source, example)
            if not cues and not header and len(leading) > 1:
                bad_number, bad = leading[1]
                raise TranscriptError(
                    source, f"expected a cue timing like '{example}', found '{bad.strip()}'",
                    line=bad_number,
                )
            if cues and cues[-1].text and _CUE_NUMBER.match(cues[-1].text[-1]):
                cues[-1].text.pop()
            cues.append(_Cue(number, start, end, []))
        elif cues:
            cues[-1].text.append(line)
        else:
            leading.append((number, line))
    if not cues and not header:
        bad_number, bad = leading[0]
        raise TranscriptError(
            source, f"expected a cue timing like '{example}', found '{bad.strip()}'",
            line=bad_number,
        )
    return cues


def _cue_phrases(cues: list[_Cue], clean: Callable[[str], str]) -> list[Phrase]:
    phrases = []
    for cue in cues:
        words = _words(clean(" ".join(cue.text)))
        if words:  # a cue holding only markup or a sound cue like "<i></i>" says nothing
            phrases.append(Phrase(words, cue.start, cue.end, where=f"line {cue.line}"))
    return _sorted_by_start(phrases)


def _clean_srt(text: str) -> str:
    return _TAG.sub(" ", _SRT_OVERRIDE.sub(" ", text))


def _clean_vtt(text: str) -> str:
    return html.unescape(_TAG.sub(" ", text))


def _parse_srt(text: str, source: str) -> Transcript:
    example = "00:00:01,000 --> 00:00:02,500"
    cues = [c for b in _blocks(_lines(text)) for c in _cues_in_block(b, source, example)]
    return Transcript(_cue_phrases(cues, _clean_srt), source=source)


_VTT_SKIPPED_BLOCKS = re.compile(r"^(NOTE|STYLE|REGION)(\s|$)")


def _parse_vtt(text: str, source: str) -> Transcript:
    example = "00:01.000 --> 00:02.500"
    lines = _lines(text)
    if not re.match(r"^WEBVTT(\s|$)", lines[0]):
        raise TranscriptError(
            source, f"a WebVTT file must start with 'WEBVTT', found '{lines[0].strip()}'", line=1
        )
    cues: list[_Cue] = []
    for i, block in enumerate(_blocks(lines)):
        if i == 0:  # header: "WEBVTT" plus optional metadata ("Kind: captions")
            cues += _cues_in_block(block[1:], source, example, header=True)
        elif not _VTT_SKIPPED_BLOCKS.match(block[0][1]):
            cues += _cues_in_block(block, source, example)
    return Transcript(_cue_phrases(cues, _clean_vtt), source=source)


# --------------------------------------------------------------------------- Praat TextGrid

# Praat text files are a stream of numbers, "strings" ("" escapes a quote; may span lines)
# and <flags>. The long format adds labels ("xmin =", "item [1]:") around the same stream, so
# dropping labels, [indices] and ! comments reads both formats with one parser.
_TG_TOKEN = re.compile(
    r'(?P<string>"(?:[^"]|"")*")'
    r"|(?P<flag><[A-Za-z]+>)"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"
    r"|(?P<skip>\[[^\]\n]*\]|![^\n]*|[A-Za-z_][\w]*|\s+|\S)"
)


class _TextGridTokens:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        line, counted = 1, 0  # line number at text[counted]
        for m in _TG_TOKEN.finditer(text):
            kind = m.lastgroup
            if kind == "skip" and m.group() != '"':
                continue
            line += text.count("\n", counted, m.start())
            counted = m.start()
            # A lone quote (a text that never closes) is reported only when the parser gets
            # there: a missing quote usually shows up earlier as a misplaced token.
            self.tokens.append(("unclosed" if kind == "skip" else kind, m.group(), line))
        self.pos = 0
        self.last_line = line + text.count("\n", counted)

    def _take(self, kind: str, what: str) -> tuple[str, int]:
        if self.pos >= len(self.tokens):
            raise TranscriptError(
                self.source, f"the file ends early: expected {what}", line=self.last_line
            )
        got, value, line = self.tokens[self.pos]
        if got == "unclosed":
            raise TranscriptError(self.source, "a text has no closing quote", line=line)
        if got != kind:
            found = value if len(value) <= 40 else value[:37] + "..."
            hint = ""
            if got == "string" and "\n" in value:
                hint = " (a text running over several lines: is a quote missing?)"
            raise TranscriptError(
                self.source, f"expected {what}, found {found}{hint}", line=line
            )
        self.pos += 1
        return value, line

    def number(self, what: str) -> tuple[float, int]:
        value, line = self._take("number", what)
        return float(value), line

    def count(self, what: str) -> int:
        value, line = self.number(what)
        if value < 0 or not value.is_integer():
            raise TranscriptError(self.source, f"{what} must be a whole number", line=line)
        return int(value)

    def string(self, what: str) -> tuple[str, int]:
        value, line = self._take("string", what)
        return value[1:-1].replace('""', '"'), line

    def flag(self, what: str) -> str:
        return self._take("flag", what)[0]


@dataclass
class _Interval:
    start: float
    end: float
    text: str
    line: int | None = None


def _parse_textgrid(text: str, source: str) -> Transcript:
    tokens = _TextGridTokens(text, source)
    file_type, line = tokens.string('File type = "ooTextFile"')
    if not file_type.startswith("ooTextFile"):
        raise TranscriptError(
            source, f"expected a Praat text file (\"ooTextFile\"), found \"{file_type}\"", line
        )
    object_class, line = tokens.string('Object class = "TextGrid"')
    if object_class != "TextGrid":
        raise TranscriptError(source, f"expected a TextGrid, found a \"{object_class}\"", line)
    tokens.number("the TextGrid start time")
    tokens.number("the TextGrid end time")
    if tokens.flag("<exists>") != "<exists>":
        return Transcript([], source=source)

    tiers: list[tuple[str, list[_Interval]]] = []
    for _ in range(tokens.count("the number of tiers")):
        tier_class, class_line = tokens.string('a tier class ("IntervalTier" or "TextTier")')
        name, _line = tokens.string("a tier name")
        tokens.number("the tier start time")
        tokens.number("the tier end time")
        if tier_class == "IntervalTier":
            intervals = []
            for _ in range(tokens.count("the number of intervals")):
                start, line = tokens.number("an interval start time")
                end, _line = tokens.number("an interval end time")
                label, _line = tokens.string("an interval text")
                _check_span(start, end, source, "the interval", line=line)
                intervals.append(_Interval(start, end, label, line))
            tiers.append((name, intervals))
        elif tier_class == "TextTier":
            for _ in range(tokens.count("the number of points")):
                tokens.number("a point time")
                tokens.string("a point mark")
        else:
            raise TranscriptError(source, f'unknown tier class "{tier_class}"', class_line)

    if not tiers:
        raise TranscriptError(source, "has no interval tier to take words from")
    intervals = _word_tier(tiers)
    return Transcript(_interval_phrases(intervals), source=source)


def _word_tier(tiers: list[tuple[str, list[_Interval]]]) -> list[_Interval]:
    """The tier named "word(s)" (any case), else one whose name contains it ("spk1 - words",
    as multi-speaker MFA writes), else the first interval tier."""
    for name, intervals in tiers:
        if name.strip().lower() in ("word", "words"):
            return intervals
    for name, intervals in tiers:
        if re.search(r"\bwords?\b", name.lower()):
            return intervals
    return tiers[0][1]


def _interval_phrases(intervals: list[_Interval]) -> list[Phrase]:
    """One Phrase per run of consecutive labelled intervals; silence ends a run.

    An interval holding several words (an utterance tier) becomes its own Phrase spanning the
    interval with untimed words, instead of inventing word times: the aligner times them.
    """
    phrases: list[Phrase] = []
    run: list[Word] = []

    def close_run() -> None:
        if run:
            phrases.append(Phrase(list(run), run[0].start, run[-1].end))
            run.clear()

    for iv in sorted(intervals, key=lambda iv: iv.start):
        words = _words(iv.text)
        if not words or (len(words) == 1 and words[0].text.lower() in TEXTGRID_SILENCE_LABELS):
            close_run()
        elif len(words) == 1:
            run.append(Word(words[0].text, iv.start, iv.end, where=f"line {iv.line}"))
        else:
            close_run()
            phrases.append(Phrase(words, iv.start, iv.end, where=f"line {iv.line}"))
    close_run()
    return phrases


# --------------------------------------------------------------------------- JSON words


def _parse_json(text: str, source: str) -> Transcript:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(source, f"is not valid JSON ({exc.msg})", line=exc.lineno) from None
    prefix = ""
    if isinstance(data, dict) and "words" in data:
        data, prefix = data["words"], "words"
    if not isinstance(data, list):
        raise TranscriptError(
            source,
            'expected a list of {"word": ..., "start": ..., "end": ...} objects '
            'or an object with a "words" list',
        )
    timed: list[Word] = []
    extra: list[Phrase] = []  # entries holding several words, see _interval_phrases
    for index, entry in enumerate(data):
        where = f"entry {prefix}[{index}]"
        if not isinstance(entry, dict):
            raise TranscriptError(
                source, f'expected an object like {{"word": ..., "start": ..., "end": ...}}, '
                f"found {json.dumps(entry, ensure_ascii=False)[:60]}", where=where,
            )
        key = "word" if "word" in entry else "text" if "text" in entry else None
        if key is None:
            raise TranscriptError(source, 'has no "word" (or "text")', where=where)
        label = entry[key]
        if not isinstance(label, str):
            raise TranscriptError(source, f'"{key}" must be a string, found {label!r}',
                                  where=where)
        start = _json_time(entry, "start", source, where)
        end = _json_time(entry, "end", source, where)
        _check_span(start, end, source, "the word", where=where)
        words = _words(label)
        if len(words) == 1:
            timed.append(Word(words[0].text, start, end, where=where))
        elif words:
            extra.append(Phrase(words, start, end, where=where))
    phrases = []
    if timed:
        timed.sort(key=lambda w: w.start)
        phrases.append(Phrase(timed, timed[0].start, max(w.end for w in timed)))
    return Transcript(_sorted_by_start(phrases + extra), source=source)


def _json_time(entry: dict, key: str, source: str, where: str) -> float:
    if key not in entry:
        raise TranscriptError(source, f'has no "{key}" time', where=where)
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TranscriptError(
            source, f'"{key}" must be a number of seconds, found {value!r}', where=where
        )
    return float(value)


_READERS: dict[str, Callable[[str, str], Transcript]] = {
    ".txt": _parse_txt,
    ".srt": _parse_srt,
    ".vtt": _parse_vtt,
    ".textgrid": _parse_textgrid,
    ".json": _parse_json,
}
