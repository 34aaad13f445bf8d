"""Reading datasets: the five formats from real corpus lines, compression, hostile lines."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from hxpm.core.strictjson import read_json
from hxpm.datasets.reader import Scan, detect_format, iter_records
from hxpm.datasets.records import (
    FORMATS,
    ChatRecord,
    Message,
    PreferenceRecord,
    PromptCompletion,
    TextRecord,
)
from hxpm.errors import DatasetError, NotFoundError
from tests.unit.datasets.realformats import ELASTIC, JSON_REPAIR, corpus_lines, write_formats

MANIFESTS = Path(__file__).resolve().parents[2] / "fixtures" / "original-ecosystem" / "manifests"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_formats(tmp_path / "formats")


def test_each_real_format_is_detected_and_read(files):
    expected_types = {
        "text": TextRecord,
        "prompt_completion": PromptCompletion,
        "messages": ChatRecord,
        "instruction": PromptCompletion,
        "preference": PreferenceRecord,
    }
    assert set(files) == set(FORMATS)
    for fmt, path in files.items():
        assert detect_format(path) == fmt
        records = list(iter_records(path))
        assert records and all(isinstance(r, expected_types[fmt]) for _, r in records), fmt
        assert [n for n, _ in records] == list(range(1, len(records) + 1))
        # Naming the format gives the same records as detecting it.
        assert list(iter_records(path, fmt=fmt)) == records


def test_real_text_lines_keep_their_text_verbatim(files):
    first = json.loads(corpus_lines(ELASTIC)[0])["text"]
    (_, record), *_ = iter_records(files["text"])
    assert record == TextRecord(first)


def test_real_instruction_line_with_a_nested_input_object(files):
    # expert-json's lines: {"task", "input": {object}, "output"}; the object is the prompt,
    # written as JSON, and the output is the completion.
    raw = json.loads(corpus_lines(JSON_REPAIR)[0])
    (_, record), *_ = iter_records(files["instruction"])
    assert isinstance(record, PromptCompletion)
    assert json.loads(record.prompt) == raw["input"]
    assert record.completion == raw["output"]


def test_instruction_and_input_strings_join(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_text(
        json.dumps({"instruction": "Translate to SQL.", "input": "all users", "output": "SELECT"})
        + "\n"
        + json.dumps({"instruction": "Say hi.", "input": "", "response": "hi"})
        + "\n"
    )
    assert [r for _, r in iter_records(path)] == [
        PromptCompletion("Translate to SQL.\n\nall users", "SELECT"),
        PromptCompletion("Say hi.", "hi"),
    ]


def test_real_manifest_field_mapping_and_format(files):
    dataset = read_json(
        (MANIFESTS / "expert-sql" / "manifest.json").read_bytes(), max_bytes=1 << 20
    )["training"]["dataset"]
    assert dataset["format"] == "jsonl" and dataset["field_mapping"] == {"text": "text"}
    records = list(
        iter_records(files["text"], fmt=dataset["format"], field_mapping=dataset["field_mapping"])
    )
    assert records == list(iter_records(files["text"]))


def test_field_mapping_renames_the_files_fields(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"question": "2+2?", "answer": "4", "input": ""}) + "\n")
    mapping = {"instruction": "question", "output": "answer"}
    assert [r for _, r in iter_records(path, field_mapping=mapping)] == [
        PromptCompletion("2+2?", "4")
    ]
    # An error names the field as the file spells it.
    path.write_text(json.dumps({"question": "2+2?", "answer": 4}) + "\n")
    with pytest.raises(DatasetError) as exc:
        list(iter_records(path, field_mapping=mapping))
    assert exc.value.field == "answer" and exc.value.line == 1


def test_unknown_mapping_key_and_container_format_are_refused(files):
    with pytest.raises(DatasetError, match="field_mapping"):
        list(iter_records(files["text"], field_mapping={"question": "q"}))
    with pytest.raises(DatasetError, match="parquet"):
        list(iter_records(files["text"], fmt="parquet"))
    with pytest.raises(DatasetError, match="must be a string"):
        list(iter_records(files["text"], fmt=7))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_compressed_files_read_as_the_plain_ones(files, tmp_path, kind):
    plain = files["messages"]
    data = plain.read_bytes()
    packed = tmp_path / f"messages.jsonl.{kind}"
    if kind == "gz":
        packed.write_bytes(gzip.compress(data))
    else:
        packed.write_bytes(zstandard.ZstdCompressor().compress(data))
    assert list(iter_records(packed)) == list(iter_records(plain))


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_cut_off_compressed_files_are_refused(files, tmp_path, kind):
    data = files["text"].read_bytes()
    packed = gzip.compress(data) if kind == "gz" else zstandard.ZstdCompressor().compress(data)
    cut = tmp_path / f"cut.jsonl.{kind}"
    cut.write_bytes(packed[: len(packed) - 12])
    with pytest.raises(DatasetError, match="cut off or damaged"):
        list(iter_records(cut))


def test_a_name_that_lies_about_compression(files, tmp_path):
    fake = tmp_path / "fake.jsonl.gz"
    fake.write_bytes(files["text"].read_bytes())
    with pytest.raises(DatasetError, match="gzip"):
        list(iter_records(fake))


def _error(path: Path, **kw) -> DatasetError:
    with pytest.raises(DatasetError) as exc:
        list(iter_records(path, **kw))
    return exc.value


def test_a_bad_line_names_file_line_and_field(files, tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = files["prompt_completion"].read_text().splitlines()
    lines.insert(2, json.dumps({"prompt": "p", "completion": 7}))
    path.write_text("\n".join(lines) + "\n")
    err = _error(path)
    assert (err.file, err.line, err.field) == (str(path), 3, "completion")
    assert "expected a non-empty string" in err.message and "got a number" in err.message
    assert err.details["line"] == 3 and err.exit_code == 1


def test_a_line_of_another_format_is_refused_after_detection(files, tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text(files["text"].read_text() + json.dumps({"prompt": "a", "completion": "b"}))
    err = _error(path)
    assert err.line == 5 and err.field == "text" and "detected from line 1" in err.message


def test_bad_json_non_utf8_and_non_objects(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "broken\n')
    err = _error(path)
    assert err.line == 2 and "not valid JSON" in err.message
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    err = _error(path)
    assert err.line == 2 and "not UTF-8" in err.message and "0xe9" in err.message
    path.write_bytes(b'["text"]\n')
    assert "a JSON object" in _error(path).message
    path.write_bytes(b'{"text": "a", "text": "b"}\n')
    assert "duplicate key" in _error(path).message


def test_messages_are_checked_turn_by_turn(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}) + "\n")
    assert _error(path).field == "messages[0].role"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert "no assistant message" in _error(path).message
    parts = [{"type": "text", "text": "he"}, {"type": "text", "text": "llo"}]
    path.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": parts},
                    {"role": "assistant", "content": "hi"},
                ]
            }
        )
    )
    assert [r for _, r in iter_records(path)] == [
        ChatRecord((Message("user", "hello"), Message("assistant", "hi")))
    ]


def test_empty_and_blank_files(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert "no records" in _error(path).message
    path.write_bytes(b"\n  \n\r\n")
    assert "no records" in _error(path).message
    with pytest.raises(NotFoundError):
        list(iter_records(tmp_path / "missing.jsonl"))


def test_a_50mb_line_is_refused_at_the_cap_without_buffering_it(tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as f:
        f.write(b'{"text": "ok"}\n{"text": "')
        f.write(b"x" * (50 << 20))
        f.write(b'"}\n{"text": "after"}\n')
    tracemalloc.start()
    try:
        err = _error(path, max_line_bytes=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.line == 2 and "longer than 1048576 bytes" in err.message
    assert peak < 8 << 20  # a few MiB of chunks, not the 50 MB line
    # The default cap (16 MiB) refuses it too; validate-style scans skip it and go on.
    seen: list[DatasetError] = []
    entries = list(Scan(path, on_error=seen.append))
    assert [e.number for e in entries] == [1, 3] and [e.line for e in seen] == [2]


def test_crlf_and_bom_are_accepted(tmp_path):
    path = tmp_path / "win.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\r\n{"text": "b"}\r\n')
    assert [r.text for _, r in iter_records(path)] == ["a", "b"]  # type: ignore[union-attr]


# Run in a fresh process: its peak resident size (ru_maxrss) is this read's alone, and
# tracemalloc would slow 100k lines ten-fold.
_STREAM_PROBE = """
import resource, sys
from pathlib import Path
from hxpm.datasets.records import PromptCompletion
from hxpm.datasets.reader import iter_records
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
count = last = 0
for number, record in iter_records(Path(sys.argv[1])):
    assert isinstance(record, PromptCompletion)
    count, last = count + 1, number
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(count, last, grown * 1024)
"""


def test_100k_lines_stream_in_bounded_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    pad = "lorem ipsum dolor sit amet " * 8
    line = '{{"prompt": "Question {0}: what is {0} plus one? {1}", "completion": "{2}"}}\n'
    with path.open("w") as f:
        f.writelines(line.format(i, pad, i + 1) for i in range(100_000))
    size = path.stat().st_size
    r = subprocess.run(
        [sys.executable, "-c", _STREAM_PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    count, last, grown = map(int, r.stdout.split())
    assert count == last == 100_000
    # The file (25 MB) never sits in memory, whole or as records: the process grew by a few
    # MiB of read chunks at most.
    assert size > 24 << 20 and grown < 12 << 20, (size, grown)


def test_the_example_line_of_each_format_in_the_docs_reads_as_that_format(tmp_path):
    doc = Path(__file__).resolve().parents[3] / "docs" / "datasets.md"
    found = {}
    for row in doc.read_text(encoding="utf-8").splitlines():
        for fmt in FORMATS:
            prefix = f"| `{fmt}` | `"
            if row.startswith(prefix):
                found[fmt] = row[len(prefix) :].split("` |")[0].replace("\\|", "|")
    assert set(found) == set(FORMATS)
    for fmt, line in found.items():
        path = tmp_path / f"{fmt}.jsonl"
        path.write_text(line + "\n", encoding="utf-8")
        assert detect_format(path) == fmt
        assert len(list(iter_records(path))) == 1
