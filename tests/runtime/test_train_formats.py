"""Every dataset format trains, with loss on the part to learn only.

Text lines come from the older ecosystem's real datasets (tests/fixtures/original-ecosystem:
``<|assistant|>`` markers in expert-elastic, nested ``input`` objects in expert-json); the
others are written here in the shapes docs/datasets.md describes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hxpm.services.training import TrainRequest, train_expert
from tests.runtime.test_train import WORDS, color, edit_manifest, make_expert, write_jsonl

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "original-ecosystem" / "datasets"
ELASTIC = CORPUS / "expert-elastic" / "datasets_train.jsonl.head2.jsonl"
JSON_REPAIR = CORPUS / "expert-json" / "datasets_json_repair_enhanced_test.jsonl.head3.jsonl"


@pytest.fixture
def store(cli, tiny):
    from hxpm.store.store import Store

    r = cli("base", "add", "hxpm/tiny", "--path", tiny.base)
    assert r.code == 0, r.err
    s = Store.from_env()
    yield s
    s.close()


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny.base)


def labelled_text(tokenizer, ids, spans) -> str:
    return "".join(tokenizer.decode(list(ids[a:b])) for a, b in spans)


def _train(store, d: Path, dataset: Path, steps: int = 12, **dataset_keys):
    shutil.copy(dataset, d / "datasets" / "data.jsonl")
    edit_manifest(
        d,
        lambda m: (
            m["training"].update(
                dataset={"path": "datasets/data.jsonl", "format": "jsonl", **dataset_keys}
            ),
            # the tiny base's tokenizer is byte-level: real lines are a few hundred tokens
            m["training"]["config"].update(max_length=640),
        ),
    )
    return train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=steps))


def _expert(tmp_path, tiny) -> Path:
    return make_expert(tmp_path, "expert-fmt", tiny.digest, train=[color(w) for w in WORDS])


# --- what carries loss ---------------------------------------------------------------------


def test_legacy_chat_text_carries_loss_on_the_assistant_turn_only(tokenizer):
    from hxpm.datasets.reader import assistant_spans
    from hxpm.runtime import trainset

    text = json.loads(ELASTIC.read_text().splitlines()[0])["text"]
    ids, spans = trainset._text(tokenizer, text, assistant_spans(text))
    learned = labelled_text(tokenizer, ids, spans)
    assert learned.startswith('{"index_patterns"') and learned.endswith("<|end|>")
    assert "Generate a mapping" not in learned and "Dialect" not in learned


def test_text_without_chat_markers_carries_loss_everywhere(tokenizer):
    from hxpm.runtime import trainset

    text = "SELECT name FROM users WHERE id = 1;"
    ids, spans = trainset._text(tokenizer, text, ((0, len(text)),))
    assert spans == [(0, len(ids))]


def test_messages_are_rendered_with_the_chat_template_and_learn_assistant_turns(tokenizer):
    from hxpm.runtime import trainset

    messages = (("system", "be brief"), ("user", "hi"), ("assistant", "yo"))
    messages += (("user", "color of red"), ("assistant", '{"color": "red"}'))
    text, char_spans = trainset.render_chat(tokenizer, messages)
    assert text.startswith("<|im_start|>system\nbe brief<|im_end|>")
    assert [text[a:b] for a, b in char_spans] == ["yo<|im_end|>", '{"color": "red"}<|im_end|>']
    ids, spans = trainset._text(tokenizer, text, char_spans)
    assert labelled_text(tokenizer, ids, spans) == 'yo<|im_end|>{"color": "red"}<|im_end|>'


# --- each format trains --------------------------------------------------------------------


def test_real_legacy_chat_text_trains(store, tiny, tmp_path):
    result = _train(store, _expert(tmp_path, tiny), ELASTIC)
    assert result.examples == 2 and result.steps == 12
    assert result.last_loss < result.first_loss


def test_chatml_text_trains(store, tiny, tmp_path):
    rows = [
        {
            "text": f"<|im_start|>user\ncolor of {w}<|im_end|>\n"
            f'<|im_start|>assistant\n{{"color": "{w}"}}<|im_end|>\n'
        }
        for w in WORDS
    ]
    path = write_jsonl(tmp_path / "chatml.jsonl", rows)
    result = _train(store, _expert(tmp_path, tiny), path, steps=20)
    assert result.last_loss < result.first_loss / 2


def test_messages_train(store, tiny, tmp_path):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"color of {w}"},
                {"role": "assistant", "content": json.dumps({"color": w})},
            ]
        }
        for w in WORDS
    ]
    path = write_jsonl(tmp_path / "messages.jsonl", rows)
    result = _train(store, _expert(tmp_path, tiny), path, steps=20)
    assert result.last_loss < result.first_loss / 2


def test_real_instruction_lines_train_through_field_mapping(store, tiny, tmp_path):
    # expert-json's repair lines: "input" is an object and the answer is in "output"; the
    # mapping names "task" as the instruction.
    result = _train(
        store,
        _expert(tmp_path, tiny),
        JSON_REPAIR,
        format="instruction",
        field_mapping={"instruction": "task"},
    )
    assert result.examples == 3 and result.last_loss < result.first_loss


def test_prompt_completion_with_validation_reports_the_validation_loss(store, tiny, tmp_path):
    d = _expert(tmp_path, tiny)
    write_jsonl(d / "datasets" / "validation.jsonl", [color(w) for w in WORDS[:4]])
    edit_manifest(
        d,
        lambda m: (
            m["training"]["dataset"].update(validation_path="datasets/validation.jsonl"),
            m["training"]["config"].update(eval_steps=5, save_steps=10),
        ),
    )
    result = train_expert(store, TrainRequest(d, device="cpu", threads=1, max_steps=10))
    assert result.eval_loss is not None and result.eval_loss < result.first_loss
