"""Transcript readers: TXT, SRT, WebVTT, Praat TextGrid (long + short), JSON words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.speech.transcripts import (
    SUPPORTED_EXTENSIONS,
    TranscriptError,
    parse_text,
    read_transcript,
)
from backend.speech.words import Transcript


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _texts(t: Transcript) -> list[list[str]]:
    return [[w.text for w in p.words] for p in t.phrases]


def _spans(t: Transcript) -> list[tuple[float | None, float | None]]:
    return [(p.start, p.end) for p in t.phrases]


def _error(path: Path) -> str:
    with pytest.raises(TranscriptError) as info:
        read_transcript(path)
    return str(info.value)


# --------------------------------------------------------------------------- plain text


def test_txt_unicode_punctuation_numbers_and_blank_lines(tmp_path):
    text = "Hello,  world!\n\n   \nA naïve café\t在 日本\n42 and 3.5%\n"
    path = _write(tmp_path, "talk.txt", text)
    t = read_transcript(path)
    assert _texts(t) == [["Hello,", "world!"], ["A", "naïve", "café", "在", "日本"],
                         ["42", "and", "3.5%"]]
    assert t.source == str(path)
    assert not t.word_timed
    assert all(w.start is None and w.end is None for w in t.words)
    assert _spans(t) == [(None, None)] * 3


def test_txt_crlf_bom_and_uppercase_extension(tmp_path):
    path = _write(tmp_path, "TALK.TXT", "\ufeffFirst line\r\n\r\nSecond\u00a0line\r\nlast")
    t = read_transcript(path)
    assert _texts(t) == [["First", "line"], ["Second", "line"], ["last"]]
    assert t.words[0].text == "First"  # BOM not glued to the first word


def test_txt_utf16_with_bom(tmp_path):
    for encoding in ("utf-16", "utf-16-be"):
        path = tmp_path / f"u16-{encoding}.txt"
        data = "Grüße aus 日本\n".encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        path.write_bytes(data)
        assert _texts(read_transcript(path)) == [["Grüße", "aus", "日本"]]


def test_parse_text_matches_txt(tmp_path):
    text = "Hello, world!\r\n\r\nnaïve café 42\n"
    from_ui = parse_text(text)
    assert from_ui.source == "<text>"
    assert _texts(from_ui) == _texts(read_transcript(_write(tmp_path, "a.txt", text)))
    assert from_ui.text == "Hello, world! naïve café 42"


def test_parse_text_blank_is_an_error():
    with pytest.raises(TranscriptError, match="<text>: has no words"):
        parse_text("  \n\t\n")


# --------------------------------------------------------------------------- SRT

SRT = (
    "\ufeff1\r\n"
    "00:00:01,000 --> 00:00:02,500\r\n"
    "<i>Hello,</i> world!\r\n"
    "Second   line\r\n"
    "\r\n"
    "2\r\n"
    "00:00:03,000 --> 00:00:04,250\r\n"
    "{\\an8}naïve <font color=\"red\">café</font> 日本 42\r\n"
    "\r\n"
    "\r\n"
    "00:00:02,000 --> 00:00:03,500 X1:10 X2:20\r\n"  # no cue number, overlaps cue 1
    "3.5 is a number"  # no trailing newline / blank line
)


def test_srt_cues(tmp_path):
    t = read_transcript(_write(tmp_path, "talk.srt", SRT))
    assert _texts(t) == [
        ["Hello,", "world!", "Second", "line"],
        ["3.5", "is", "a", "number"],  # overlapping cue kept, ordered by start
        ["naïve", "café", "日本", "42"],
    ]
    assert _spans(t) == [(1.0, 2.5), (2.0, 3.5), (3.0, 4.25)]
    assert all(w.start is None for w in t.words)


def test_srt_missing_blank_line_between_cues(tmp_path):
    text = "1\n00:00:00,000 --> 00:00:01,000\nOne\n2\n00:00:01,000 --> 00:00:02,000\nTwo\n"
    t = read_transcript(_write(tmp_path, "tight.srt", text))
    assert _texts(t) == [["One"], ["Two"]]
    assert _spans(t) == [(0.0, 1.0), (1.0, 2.0)]


def test_srt_long_hours_and_dot_separator(tmp_path):
    text = "1\n01:02:03.400 --> 01:02:04,000\nlate\n"
    assert _spans(read_transcript(_write(tmp_path, "x.srt", text))) == [(3723.4, 3724.0)]


def test_srt_bad_timing_names_file_and_line(tmp_path):
    text = (
        "1\n00:00:00,000 --> 00:00:01,000\nfine\n\n"
        "2\n00:00:01 --> 00:00:02\nbroken\n"
    )
    path = _write(tmp_path, "talk.srt", text)
    message = _error(path)
    assert f"{path}, line 6: cannot read the timing '00:00:01 --> 00:00:02'" in message
    assert message.startswith(str(path))


def test_srt_end_before_start(tmp_path):
    text = "\n\n1\n00:00:05,000 --> 00:00:04,000\nbackwards\n"
    message = _error(_write(tmp_path, "talk.srt", text))
    assert "talk.srt, line 4:" in message
    assert "ends (4 s) before it starts (5 s)" in message


def test_srt_negative_time(tmp_path):
    message = _error(_write(tmp_path, "neg.srt", "1\n-00:00:01,000 --> 00:00:02,000\nx\n"))
    assert "neg.srt, line 2:" in message and "negative" in message


def test_srt_text_without_timing(tmp_path):
    text = "1\n00:00:00,000 --> 00:00:01,000\nok\n\nstray text\n"
    message = _error(_write(tmp_path, "stray.srt", text))
    assert "stray.srt, line 5: expected a cue timing" in message
    assert "'stray text'" in message


def test_srt_minutes_out_of_range(tmp_path):
    message = _error(_write(tmp_path, "bad.srt", "1\n00:61:00,000 --> 00:62:00,000\nx\n"))
    assert "bad.srt, line 2: cannot read the timing" in message


def test_srt_only_markup_has_no_words(tmp_path):
    message = _error(_write(tmp_path, "empty.srt", "1\n00:00:00,000 --> 00:00:01,000\n<i></i>\n"))
    assert message.endswith("empty.srt: has no words")


# --------------------------------------------------------------------------- WebVTT

VTT = (
    "\ufeffWEBVTT - a talk\r\n"
    "Kind: captions\r\n"
    "Language: en\r\n"
    "\r\n"
    "STYLE\r\n"
    "::cue { color: yellow }\r\n"
    "\r\n"
    "NOTE this is a comment\r\n"
    "00:00:09.000 --> 00:00:10.000 is not a cue\r\n"
    "\r\n"
    "intro\r\n"
    "00:01.000 --> 00:02.500 align:start position:10%\r\n"
    "<v Roger>Hello,</v> <c.loud>world!</c>\r\n"
    "\r\n"
    "00:00:03.000 --> 00:00:04.000\r\n"
    "naïve &amp; café <00:00:03.500>日本\r\n"
    "\r\n"
    "NOTE\r\n"
    "multi-line note\r\n"
    "\r\n"
    "01:00:00.000 --> 01:00:01.000\r\n"
    "42 3.5"
)


def test_vtt_cues(tmp_path):
    t = read_transcript(_write(tmp_path, "talk.vtt", VTT))
    assert _texts(t) == [["Hello,", "world!"], ["naïve", "&", "café", "日本"], ["42", "3.5"]]
    assert _spans(t) == [(1.0, 2.5), (3.0, 4.0), (3600.0, 3601.0)]


def test_vtt_requires_header(tmp_path):
    path = _write(tmp_path, "nohead.vtt", "00:01.000 --> 00:02.000\nhi\n")
    assert "nohead.vtt, line 1: a WebVTT file must start with 'WEBVTT'" in _error(path)


def test_vtt_bad_timing_line(tmp_path):
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 -> 00:04.000\nx\n\n1\n00:0x --> 1\n"
    message = _error(_write(tmp_path, "talk.vtt", text))
    # "->" is not a timing arrow, so line 6 is a block without a timing
    assert "talk.vtt, line 6: expected a cue timing" in message


def test_vtt_cannot_read_timing(tmp_path):
    text = "WEBVTT\n\n1\n00:01.000 --> 00:02.000\nok\n\n2\n00:03 --> 00:04.000\nx\n"
    message = _error(_write(tmp_path, "talk.vtt", text))
    assert "talk.vtt, line 8: cannot read the timing '00:03 --> 00:04.000'" in message


def test_vtt_end_before_start(tmp_path):
    message = _error(_write(tmp_path, "back.vtt", "WEBVTT\n\n00:02.000 --> 00:01.000\nx\n"))
    assert "back.vtt, line 3:" in message and "before it starts" in message


# --------------------------------------------------------------------------- TextGrid

TEXTGRID_LONG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 3
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 3
        intervals: size = 2
        intervals [1]:
            xmin = 0
            xmax = 1.5
            text = "HH"
        intervals [2]:
            xmin = 1.5
            xmax = 3
            text = "AH"
    item [2]:
        class = "IntervalTier"
        name = "Words"
        xmin = 0
        xmax = 3
        intervals: size = 6
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = ""
        intervals [2]:
            xmin = 0.5
            xmax = 0.9
            text = "Hello,"
        intervals [3]:
            xmin = 0.9
            xmax = 1.4
            text = "naïve ""café"""
        intervals [4]:
            xmin = 1.4
            xmax = 1.8
            text = "   "
        intervals [5]:
            xmin = 1.8
            xmax = 2.2
            text = "日本"
        intervals [6]:
            xmin = 2.2
            xmax = 3
            text = "42!"
'''

TEXTGRID_SHORT = '''File type = "ooTextFile"
Object class = "TextGrid"

0
3
<exists>
3
"TextTier"
"events"
0
3
1
1.0
"click"
"IntervalTier"
"word"
0
3
5
0
0.5
""
0.5
0.9
"Hello,"
0.9
1.4
"café"
1.4
1.8
"sil"
1.8
3
"3.5"
"IntervalTier"
"phones"
0
3
1
0
3
"HH"
'''


def test_textgrid_long_format_picks_word_tier(tmp_path):
    t = read_transcript(_write(tmp_path, "talk.TextGrid", TEXTGRID_LONG))
    # interval 3 holds two words: its own phrase, untimed words inside the interval span
    assert _texts(t) == [["Hello,"], ["naïve", '"café"'], ["日本", "42!"]]
    assert _spans(t) == [(0.5, 0.9), (0.9, 1.4), (1.8, 3.0)]
    first, third = t.phrases[0].words, t.phrases[2].words
    assert (first[0].start, first[0].end) == (0.5, 0.9)
    assert [(w.start, w.end) for w in third] == [(1.8, 2.2), (2.2, 3.0)]
    assert "HH" not in t.text


def test_textgrid_short_format_utf16(tmp_path):
    path = _write(tmp_path, "talk.textgrid", TEXTGRID_SHORT.replace("\n", "\r\n"), "utf-16")
    t = read_transcript(path)
    assert t.word_timed
    assert _texts(t) == [["Hello,", "café"], ["3.5"]]  # "sil" separates phrases like ""
    assert _spans(t) == [(0.5, 1.4), (1.8, 3.0)]
    assert [(w.start, w.end) for w in t.words] == [(0.5, 0.9), (0.9, 1.4), (1.8, 3.0)]


def test_textgrid_without_word_tier_uses_first_interval_tier(tmp_path):
    text = TEXTGRID_SHORT.replace('"word"', '"tokens"')
    t = read_transcript(_write(tmp_path, "a.TEXTGRID", text))
    assert _texts(t) == [["Hello,", "café"], ["3.5"]]  # the first IntervalTier, not "phones"
    text = text.replace('"tokens"', '"speaker 1 - words"')
    assert _texts(read_transcript(_write(tmp_path, "b.TextGrid", text)))[0] == ["Hello,", "café"]


def _long_to_short(long_text: str) -> str:
    """The short format is the long one with every label removed."""
    out = []
    for line in long_text.splitlines():
        stripped = line.strip()
        if "=" in stripped:
            out.append(stripped.split("=", 1)[1].strip())
        elif stripped.startswith("tiers?"):
            out.append(stripped.split()[-1])
        elif stripped and not stripped.endswith(":"):
            raise AssertionError(line)
    header = long_text.splitlines()[:2]
    return "\n".join(header) + "\n\n" + "\n".join(out[2:]) + "\n"


def test_textgrid_long_and_short_agree(tmp_path):
    short = _long_to_short(TEXTGRID_LONG)
    assert short.startswith('File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n3\n'
                            '<exists>\n2\n"IntervalTier"\n"phones"\n0\n3\n2\n0\n1.5\n"HH"\n')
    long_t = read_transcript(_write(tmp_path, "l.TextGrid", TEXTGRID_LONG))
    short_t = read_transcript(_write(tmp_path, "s.TextGrid", short))
    assert long_t.phrases == short_t.phrases


def test_textgrid_interval_end_before_start(tmp_path):
    text = TEXTGRID_LONG.replace("xmin = 1.8\n            xmax = 2.2",
                                 "xmin = 2.5\n            xmax = 2.2")
    path = _write(tmp_path, "talk.TextGrid", text)
    line = text.splitlines().index("            xmin = 2.5") + 1
    message = _error(path)
    assert f"talk.TextGrid, line {line}:" in message
    assert "ends (2.2 s) before it starts (2.5 s)" in message


def test_textgrid_bad_number_names_line(tmp_path):
    text = TEXTGRID_SHORT.replace("0.5\n0.9\n", "0.5\n\"oops\"\n")
    line = text.splitlines().index('"oops"') + 1
    message = _error(_write(tmp_path, "bad.TextGrid", text))
    assert f"bad.TextGrid, line {line}: expected an interval end time" in message


def test_textgrid_truncated(tmp_path):
    text = "\n".join(TEXTGRID_SHORT.splitlines()[:20]) + "\n\n"
    message = _error(_write(tmp_path, "cut.TextGrid", text))
    assert "cut.TextGrid, line 22: the file ends early" in message


def test_textgrid_missing_quote(tmp_path):
    text = TEXTGRID_SHORT.replace('"café"', '"café')
    # the open text swallows lines up to the next quote, so the next interval is misread
    line = text.splitlines().index('"sil"') + 1
    message = _error(_write(tmp_path, "q.TextGrid", text))
    assert f"q.TextGrid, line {line}: expected an interval start time" in message
    assert "is a quote missing?" in message
    text = TEXTGRID_SHORT[: TEXTGRID_SHORT.rindex('"')]  # last text never closes
    line = text.count("\n") + 1
    message = _error(_write(tmp_path, "q2.TextGrid", text))
    assert f"q2.TextGrid, line {line}: a text has no closing quote" in message


def test_textgrid_not_a_textgrid(tmp_path):
    path = _write(tmp_path, "x.TextGrid", 'File type = "ooTextFile"\nObject class = "Sound"\n')
    assert "x.TextGrid, line 2: expected a TextGrid" in _error(path)


def test_textgrid_only_silence_has_no_words(tmp_path):
    text = TEXTGRID_SHORT.replace('"Hello,"', '""').replace('"café"', '"sp"')
    text = text.replace('"3.5"', '""')
    assert _error(_write(tmp_path, "quiet.TextGrid", text)).endswith("quiet.TextGrid: has no words")


# --------------------------------------------------------------------------- JSON


def test_json_list_of_words(tmp_path):
    words = [
        {"word": "Hello,", "start": 0.0, "end": 0.4},
        {"word": "naïve", "start": 0.4, "end": 0.9, "score": 0.9},
        {"text": "日本", "start": 1, "end": 1.5},
        {"word": "  ", "start": 1.5, "end": 1.6},  # empty word dropped
        {"word": "3.5", "start": 1.6, "end": 2.0},
    ]
    path = _write(tmp_path, "talk.json", json.dumps(words, ensure_ascii=False))
    t = read_transcript(path)
    assert len(t.phrases) == 1
    assert _texts(t) == [["Hello,", "naïve", "日本", "3.5"]]
    assert _spans(t) == [(0.0, 2.0)]
    assert t.word_timed
    assert [(w.start, w.end) for w in t.words][2] == (1.0, 1.5)


def test_json_words_object_with_bom_and_crlf(tmp_path):
    data = {"language": "en", "words": [{"text": "café", "start": 0.5, "end": 0.75},
                                        {"text": "world!", "start": 0.1, "end": 0.5}]}
    text = "\ufeff" + json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\r\n")
    t = read_transcript(_write(tmp_path, "w.JSON", text))
    assert _texts(t) == [["world!", "café"]]  # ordered by start
    assert _spans(t) == [(0.1, 0.75)]


def test_json_bad_entry_names_index(tmp_path):
    words = [{"word": "a", "start": 0, "end": 1}, {"word": "b", "start": 1, "end": "2"}]
    message = _error(_write(tmp_path, "talk.json", json.dumps(words)))
    assert "talk.json, entry [1]: \"end\" must be a number of seconds" in message


def test_json_bad_entry_in_words_object(tmp_path):
    data = {"words": [{"word": "a", "start": 0, "end": 1}, {"word": "b", "start": 2}]}
    message = _error(_write(tmp_path, "talk.json", json.dumps(data)))
    assert 'talk.json, entry words[1]: has no "end" time' in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"start": 0, "end": 1}, 'has no "word" (or "text")'),
        ({"word": 5, "start": 0, "end": 1}, '"word" must be a string'),
        ({"word": "x", "start": 2, "end": 1}, "ends (1 s) before it starts (2 s)"),
        ({"word": "x", "start": -1, "end": 1}, "negative time"),
        ({"word": "x", "start": True, "end": 1}, '"start" must be a number'),
        ("x", "expected an object"),
    ],
)
def test_json_entry_errors(tmp_path, entry, expected):
    words = [{"word": "ok", "start": 0, "end": 0.1}] * 2 + [entry]
    message = _error(_write(tmp_path, "e.json", json.dumps(words)))
    assert "e.json, entry [2]: " in message and expected in message


def test_json_syntax_error_names_line(tmp_path):
    text = '[\n  {"word": "a", "start": 0, "end": 1},\n  {"word": "b" "start": 1}\n]'
    message = _error(_write(tmp_path, "broken.json", text))
    assert "broken.json, line 3: is not valid JSON" in message


def test_json_wrong_shape(tmp_path):
    message = _error(_write(tmp_path, "shape.json", '{"segments": []}'))
    assert "shape.json: expected a list" in message
    assert _error(_write(tmp_path, "none.json", "[]")).endswith("none.json: has no words")


# --------------------------------------------------------------------------- file-level errors


@pytest.mark.parametrize("name", ["a.txt", "a.srt", "a.vtt", "a.TextGrid", "a.json"])
def test_empty_files_have_no_words(tmp_path, name):
    text = {"a.vtt": "WEBVTT\n\n", "a.json": "[]"}.get(name, "\ufeff\r\n  \n")
    path = _write(tmp_path, name, text)
    assert _error(path) == f"{path}: has no words"


def test_undecodable_bytes_name_file_and_line(tmp_path):
    path = tmp_path / "latin1.srt"
    path.write_bytes("1\n00:00:00,000 --> 00:00:01,000\ncafé\n".encode("latin-1"))
    message = _error(path)
    assert message.startswith(f"{path}, line 3: is not UTF-8 or UTF-16 text")
    assert "0xe9" in message


def test_utf16_without_bom_is_rejected(tmp_path):
    path = tmp_path / "nobom.txt"
    path.write_bytes("hello\n".encode("utf-16-le"))
    assert "nobom.txt, line 1: contains NUL characters" in _error(path)


def test_unsupported_extension_lists_supported(tmp_path):
    path = _write(tmp_path, "talk.docx", "hello")
    message = _error(path)
    assert f"{path}: unsupported transcript type ('.docx')" in message
    assert "supported: .txt, .srt, .vtt, .TextGrid, .json" in message
    for ext in SUPPORTED_EXTENSIONS:
        assert ext in message.lower()
    assert "no extension" in _error(_write(tmp_path, "README", "hello"))


def test_binary_textgrid_is_explained(tmp_path):
    path = tmp_path / "bin.TextGrid"
    path.write_bytes(b"ooBinaryFile\x08TextGrid\x00\x01")
    assert "binary TextGrid" in _error(path)


def test_error_is_a_value_error_with_fields(tmp_path):
    path = _write(tmp_path, "talk.srt", "1\nnonsense --> x\nhi\n")
    with pytest.raises(ValueError) as info:
        read_transcript(path)
    err = info.value
    assert isinstance(err, TranscriptError)
    assert err.source == str(path) and err.line == 2


# --------------------------------------------------------------------------- timings vs audio
# One rule for every timed input: files and a request's words/phrases alike.


def _fit(t: Transcript, duration: float = 5.0, allow: bool = False):
    from backend.speech.transcripts import fit_timings

    return fit_timings(t, duration, allow)


def _refusal(t: Transcript, duration: float = 5.0) -> str:
    with pytest.raises(TranscriptError) as info:
        _fit(t, duration)
    return str(info.value)


def test_punctuation_only_is_no_words(tmp_path):
    from backend.speech.transcripts import build_transcript

    assert _error(_write(tmp_path, "a.txt", "... !?\n--\n")) == (
        f"{tmp_path / 'a.txt'}: has no words, only punctuation or symbols")
    with pytest.raises(TranscriptError, match="only punctuation"):
        parse_text("… — ?!")
    with pytest.raises(TranscriptError, match="<phrases>: has no words, only punctuation"):
        build_transcript(phrases=[{"text": "...", "start": 0.0, "end": 1.0}])
    assert parse_text("Hello, world !").words[2].text == "!"  # punctuation beside words stays
    assert [w.text for w in parse_text("日本 ...").words] == ["日本", "..."]


def test_cues_and_words_past_the_end_name_item_time_and_audio_length(tmp_path):
    from backend.speech.transcripts import build_transcript

    srt = read_transcript(_write(tmp_path, "a.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n"
                                 "2\n00:00:06,500 --> 00:00:07,000\nlate words\n"))
    assert _refusal(srt) == (f'{tmp_path / "a.srt"}, line 6: the cue "late words" at 6.5-7 s '
                             "is past the end of the audio (5.00 s long); fix or remove its "
                             "timing, or allow a transcript mismatch to skip it")
    words = build_transcript(words=[{"word": "ok", "start": 0.1, "end": 0.3},
                                    {"word": "gone", "start": 5.2, "end": 5.4}])
    assert _refusal(words) == ('<words>, words[1]: the word "gone" at 5.2-5.4 s is past the '
                               "end of the audio (5.00 s long); fix or remove its timing, or "
                               "allow a transcript mismatch to skip it")
    early = build_transcript(words=[{"word": "early", "start": -0.5, "end": 0.3}])
    assert _refusal(early).startswith('<words>, words[0]: the word "early" starts before the '
                                      "audio, at -0.5 s (5.00 s long)")
    phrases = build_transcript(phrases=[{"text": "a b", "start": 5.0, "end": 9.0}])
    assert "phrases[0]: the cue \"a b\" at 5-9 s is past the end" in _refusal(phrases)
    # a cue that starts inside and runs on (a text strip longer than its sound) is kept
    assert _fit(build_transcript(phrases=[{"text": "a b", "start": 4.0, "end": 9.0}]))[1] == []


def test_textgrid_and_json_words_name_their_line_or_entry(tmp_path):
    data = [{"word": "one", "start": 0.1, "end": 0.3}, {"word": "two", "start": 8, "end": 9}]
    t = read_transcript(_write(tmp_path, "w.json", json.dumps(data)))
    assert _refusal(t).startswith(f'{tmp_path / "w.json"}, entry [1]: the word "two" at 8-9 s')


def test_allowing_a_mismatch_skips_what_lies_outside_the_audio(tmp_path):
    srt = read_transcript(_write(tmp_path, "a.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n"
                                 "2\n00:00:06,500 --> 00:00:07,000\nlate words\n"))
    kept, notes = _fit(srt, 5.0, allow=True)
    assert _texts(kept) == [["Hi"]] and _spans(kept) == [(1.0, 2.0)]
    assert notes == [f'{tmp_path / "a.srt"}, line 6: skipped 1 cue(s) or word(s) outside the '
                     '5.00 s of audio, from the cue "late words" at 6.5 s']
    with pytest.raises(TranscriptError, match="has no words inside the 0.50 s of audio"):
        _fit(srt, 0.5, allow=True)


def test_overlapping_cues_are_kept_with_a_note(tmp_path):
    srt = read_transcript(_write(tmp_path, "a.srt", "1\n00:00:01,000 --> 00:00:03,000\nHello "
                                 "there\n\n2\n00:00:02,500 --> 00:00:04,000\nfriend\n"))
    kept, notes = _fit(srt)
    assert kept is srt
    assert notes == [f'{tmp_path / "a.srt"}, line 6: the cue "friend" at 2.5 s starts before '
                     "the one before it ends (3 s); 1 overlap(s) in all, each cue keeps its "
                     "own timing"]
