"""The dataset services: validate, stats, split, dedupe, convert on real-format files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hxpm.datasets.reader import iter_records
from hxpm.datasets.records import ChatRecord, PromptCompletion, TextRecord
from hxpm.errors import DatasetError, UsageError
from hxpm.services.datasets import (
    convert_dataset,
    dataset_stats,
    dedupe_dataset,
    parse_ratios,
    split_dataset,
    validate_dataset,
)
from tests.unit.datasets.realformats import write_formats

TINY = Path(__file__).resolve().parents[3] / "models" / "tiny-qwen3"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_formats(tmp_path / "formats")


def _many(path: Path, n: int) -> Path:
    path.write_text(
        "".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n" for i in range(n))
    )
    return path


def test_validate_counts_and_lists_every_problem(files, tmp_path):
    ok = validate_dataset(files["messages"])
    assert ok.ok and ok.format == "messages" and ok.records == 4 and ok.problems == ()
    bad = tmp_path / "bad.jsonl"
    lines = files["instruction"].read_text().splitlines()
    bad.write_text("\n".join([lines[0], "{oops", lines[1], '{"input": "x", "output": 3}']))
    report = validate_dataset(bad)
    assert not report.ok and report.records == 2 and report.problem_count == 2
    assert [(p.line, p.field) for p in report.problems] == [(2, None), (4, "output")]
    limited = validate_dataset(bad, max_problems=1)
    assert limited.problem_count == 2 and len(limited.problems) == 1


def test_validate_reports_an_empty_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    report = validate_dataset(empty)
    assert not report.ok and report.records == 0 and "no records" in report.problems[0].message


def test_stats_counts_tokens_with_the_bases_tokenizer(tmp_path):
    path = tmp_path / "chat.jsonl"
    chat = "<|im_start|>user\ncafé<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n"
    path.write_text(
        json.dumps({"text": chat})
        + "\n"
        + json.dumps({"text": chat})
        + "\n"
        + json.dumps({"text": "plain  text"})
        + "\n"
    )
    s = dataset_stats(path, tokenizer=TINY)
    assert (s.format, s.records, s.duplicates, s.chat_marked) == ("text", 3, 1, 2)
    # tiny-qwen3's tokenizer: one token per UTF-8 byte, one per ChatML marker. Not chars:
    # "é" is two tokens, and each marker (12 and 10 characters) is one.
    chat_tokens = len(chat.encode()) - 2 * (len("<|im_start|>") - 1) - 2 * (len("<|im_end|>") - 1)
    assert (s.tokens.min, s.tokens.max) == (len("plain  text"), chat_tokens)  # type: ignore[union-attr]
    assert s.chars.max == len(chat) and s.tokenizer == TINY / "tokenizer.json"
    assert dataset_stats(path).tokens is None


def test_stats_preference_length_is_the_longer_pair(files):
    s = dataset_stats(files["preference"])
    assert s.format == "preference" and s.records == 3 and s.chars.min > 0


def test_split_is_deterministic_by_content_and_keeps_lines(tmp_path):
    src = _many(tmp_path / "all.jsonl", 1000)
    first = split_dataset(src, tmp_path / "a", ratios=(0.8, 0.1, 0.1))
    again = split_dataset(src, tmp_path / "b", ratios=(0.8, 0.1, 0.1))
    counts = [n for _, n in first.outputs]
    assert sum(counts) == 1000 and 740 < counts[0] < 860 and all(c > 50 for c in counts[1:])
    for (p, _), (q, _) in zip(first.outputs, again.outputs, strict=True):
        assert p.read_bytes() == q.read_bytes()
    # Same records, another order: each record still lands in the same split.
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(reversed(src.read_text().splitlines(keepends=True))))
    third = split_dataset(shuffled, tmp_path / "c", ratios=(0.8, 0.1, 0.1))
    for (p, _), (q, _) in zip(first.outputs, third.outputs, strict=True):
        assert sorted(p.read_text().splitlines()) == sorted(q.read_text().splitlines())
    salted = split_dataset(src, tmp_path / "d", ratios=(0.8, 0.1, 0.1), salt="other")
    assert salted.outputs[2][0].read_bytes() != first.outputs[2][0].read_bytes()
    assert [p.name for p, _ in first.outputs] == ["train.jsonl", "validation.jsonl", "test.jsonl"]


def test_split_writes_nothing_when_a_line_is_bad(tmp_path):
    src = _many(tmp_path / "all.jsonl", 50)
    with src.open("a") as f:
        f.write('{"prompt": "q", "completion": null}\n')
    with pytest.raises(DatasetError) as exc:
        split_dataset(src, tmp_path / "out")
    assert exc.value.line == 51 and exc.value.field == "completion"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_split_refuses_to_overwrite(tmp_path):
    src = _many(tmp_path / "train.jsonl", 10)
    with pytest.raises(UsageError, match="replace the input"):
        split_dataset(src, tmp_path)
    out = tmp_path / "o"
    split_dataset(src, out)
    with pytest.raises(UsageError, match="exists"):
        split_dataset(src, out)
    assert split_dataset(src, out, overwrite=True).read == 10


@pytest.mark.parametrize("text", ["0.8,0.1", "0.8,0.3,0.1", "a,b,c", "-0.1,0.6,0.5"])
def test_bad_ratios(text):
    with pytest.raises(UsageError, match="--ratios"):
        parse_ratios(text)


def test_dedupe_removes_whitespace_variants_and_keeps_the_first(files, tmp_path):
    src = tmp_path / "dup.jsonl"
    lines = files["instruction"].read_text().splitlines()
    variant = json.loads(lines[0])
    variant["output"] = variant["output"].replace(", ", ",  ") + " "
    variant["task"] = "other metadata"  # not part of the record: still a duplicate
    src.write_text("\n".join([lines[0], lines[1], json.dumps(variant), lines[0], lines[2]]) + "\n")
    result = dedupe_dataset(src, tmp_path / "clean.jsonl")
    assert (result.read, result.outputs[0][1]) == (5, 3)
    assert (tmp_path / "clean.jsonl").read_text().splitlines() == lines  # lines kept as-is


def test_convert_chain_instruction_to_text_and_back(files, tmp_path):
    pc = tmp_path / "pc.jsonl"
    convert_dataset(files["instruction"], pc, to="prompt_completion")
    records = [r for _, r in iter_records(pc)]
    assert records == [r for _, r in iter_records(files["instruction"])]
    chat = tmp_path / "chat.jsonl"
    convert_dataset(pc, chat, to="messages")
    text = tmp_path / "text.jsonl.gz"
    convert_dataset(chat, text, to="text")
    assert gzip.decompress(text.read_bytes()).count(b"<|im_start|>assistant") == 3
    back = tmp_path / "back.jsonl"
    convert_dataset(text, back, to="messages")
    for (_, r), (_, c) in zip(iter_records(back), iter_records(pc), strict=True):
        assert isinstance(r, ChatRecord) and isinstance(c, PromptCompletion)
        assert [m.content for m in r.messages] == [c.prompt, c.completion]


def test_convert_real_legacy_text_to_messages(files, tmp_path):
    out = tmp_path / "m.jsonl"
    result = convert_dataset(files["text"], out, to="messages")
    assert result.read == 4
    first = next(iter_records(out))[1]
    assert isinstance(first, ChatRecord)
    assert [m.role for m in first.messages] == ["system", "user", "assistant"]
    original = next(iter_records(files["text"]))[1]
    assert isinstance(original, TextRecord) and first.messages[2].content in original.text


def test_convert_refusals_write_nothing(files, tmp_path):
    out = tmp_path / "x.jsonl"
    with pytest.raises(UsageError, match="converts to no other format"):
        convert_dataset(files["preference"], out, to="text")
    with pytest.raises(UsageError, match="expected one of"):
        convert_dataset(files["text"], out, to="yaml")
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"text": "no markers here"}) + "\n")
    with pytest.raises(DatasetError, match="line 1: cannot convert to messages"):
        convert_dataset(plain, out, to="messages")
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if "incomplete" in p.name] == []
