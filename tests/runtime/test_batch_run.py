"""Many prompts decoded together (hxpm.runtime.batch_run, what `hxpm eval` uses) answer each
one exactly as `hxpm run` answers it alone: the real demo base and the SQL expert that
`make demo` ships, on its own held-out prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "models" / "tiny-qwen3"
SQL = ROOT / "experts" / "expert-sql"


@pytest.fixture(scope="module")
def demo_session():
    from hxpm.runtime.session import BaseRef, Session

    digest = (TINY / "DIGEST").read_text().split()[0]
    s = Session(BaseRef("hxpm/tiny-qwen3", TINY, digest), device="cpu")
    yield s
    s.close()


@pytest.fixture(scope="module")
def sql_ref():
    from hxpm.core.manifest import Manifest
    from hxpm.runtime.refs import AdapterRef

    manifest = Manifest.load(SQL / "manifest.json")
    variant = manifest.variant_for("hxpm/tiny-qwen3")
    return AdapterRef(
        manifest.name,
        str(manifest.version),
        SQL,
        manifest.load_order,
        variant.sha256,
        variant.prompt_template,
    )


def _heldout(n: int) -> list[str]:
    lines = (SQL / "datasets" / "heldout.jsonl").read_text().splitlines()[:n]
    return [json.loads(line)["prompt"] for line in lines]


@pytest.mark.parametrize("with_expert", [False, True], ids=["bare-base", "expert-sql"])
def test_batched_answers_equal_answers_one_at_a_time(demo_session, sql_ref, with_expert):
    from hxpm.runtime.batch_run import generate_all
    from hxpm.runtime.refs import GenerationConfig

    demo_session.use([sql_ref] if with_expert else [])
    # The expert's own decoding settings (its manifest: max_new_tokens 56, no stop strings).
    config = GenerationConfig(max_new_tokens=56, temperature=0.0)
    prompts = _heldout(30)
    done: list[int] = []
    try:
        together = generate_all(demo_session, prompts, config, max_batch=8, on_answer=done.append)
        alone = [demo_session.generate(p, config).text for p in prompts]
    finally:
        demo_session.use([])
    assert together == alone
    assert sorted(done) == list(range(len(prompts)))
    if with_expert:
        # Answers of different lengths end at different steps, so later prompts joined a
        # running batch; and the expert really acted: SQL answers, not the base's noise.
        assert done != sorted(done)
        assert sum(a.upper().startswith("SELECT") for a in together) > len(prompts) // 2


def test_a_prompt_too_long_is_named_by_its_number(demo_session):
    from hxpm.errors import UsageError
    from hxpm.runtime.batch_run import generate_all
    from hxpm.runtime.refs import GenerationConfig

    prompts = ["count the users", "x " * 600, "list the orders"]
    with pytest.raises(UsageError, match=r"^held-out item 2: the prompt is \d+ tokens"):
        generate_all(
            demo_session, prompts, GenerationConfig(max_new_tokens=8), item="held-out item"
        )


def test_batch_size_one_decodes_one_at_a_time(demo_session):
    from hxpm.runtime.batch_run import generate_all
    from hxpm.runtime.refs import GenerationConfig

    config = GenerationConfig(max_new_tokens=12, temperature=0.0)
    prompts = _heldout(4)
    done: list[int] = []
    out = generate_all(demo_session, prompts, config, max_batch=1, on_answer=done.append)
    assert done == [0, 1, 2, 3]  # one row at a time: they end in order
    assert out == [demo_session.generate(p, config).text for p in prompts]
