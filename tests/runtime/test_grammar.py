"""Grammar-constrained decoding on the real tiny base (models/tiny-qwen3) with the older
tool's four real grammars (tests/fixtures/original-ecosystem/grammars, PROVENANCE.tsv).

Outputs are judged by llguidance's own matcher (``grammar_accepts``), not by our code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("llguidance")

from hxpm.errors import GrammarError
from hxpm.runtime.grammar import GrammarSpec, compile_grammar, grammar_accepts

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fixtures/original-ecosystem/grammars"
GRAMMARS = sorted(p.parent.name for p in CORPUS.glob("*/grammar.gbnf"))
TINY = ROOT / "models/tiny-qwen3"


def corpus(name: str) -> GrammarSpec:
    path = CORPUS / name / "grammar.gbnf"
    return GrammarSpec.gbnf(path.read_text(), str(path))


def test_the_four_real_grammars_are_there():
    assert GRAMMARS == ["expert-elastic", "expert-json", "expert-neo4j", "expert-sql"]


@pytest.mark.parametrize("name", GRAMMARS)
def test_each_real_grammar_compiles(name):
    assert compile_grammar(corpus(name))


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('root ::= item\n\nitem ::= "a" (\n', 4, "Expected ')'"),
        ('# header\nroot ::= item\nitem ::= "a" other\n', 3, "Rule 'other' not found"),
        ('root ::= x\n# c\nmy-rule ::= "b"\nx ::= [z-a]\n', 4, "invalid character class"),
        ('root ::= "a" x\n\nx ::= "a"{3,1}\n', 3, "range end must be >= start"),
    ],
)
def test_a_broken_grammar_names_its_line(text, line, words):
    with pytest.raises(GrammarError) as caught:
        compile_grammar(GrammarSpec.gbnf(text, "broken.gbnf"))
    err = caught.value
    assert err.line == line and err.details["line"] == line
    assert f"broken.gbnf, line {line}:" in err.message and words in err.message
    assert err.exit_code == 1 and err.code == "invalid-grammar"


def test_a_grammar_without_root_and_a_bad_schema_are_refused():
    with pytest.raises(GrammarError, match="No 'root' rule"):
        compile_grammar(GrammarSpec.gbnf('start ::= "a"\n', "g.gbnf"))
    with pytest.raises(GrammarError, match="objekt"):
        compile_grammar(GrammarSpec.json_schema({"type": "objekt"}, "s.json"))


# --- generation on the real tiny base --------------------------------------------------------

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_session():
    from hxpm.runtime.session import BaseRef, Session

    digest = (TINY / "DIGEST").read_text().split()[0]
    s = Session(BaseRef("hxpm/tiny-qwen3", TINY, digest), device="cpu")
    yield s
    s.close()


def _generate(session, spec, *, seed, tokens=40, prompt="Write a query for the users table"):
    from hxpm.runtime.session import GenerationConfig

    config = GenerationConfig(max_new_tokens=tokens, temperature=1.0, seed=seed, grammar=spec)
    return session.generate(prompt, config)


def _is_prefix(spec, session, text) -> bool:
    """Whether llguidance's matcher takes every token of ``text`` (a viable prefix)."""
    import llguidance

    from hxpm.runtime.grammar import _ll_tokenizer

    tok = _ll_tokenizer(session.tokenizer, frozenset(), len(session.tokenizer))
    matcher = llguidance.LLMatcher(tok, compile_grammar(spec), log_level=0)
    return bool(matcher.consume_tokens(tok.tokenize_str(text)))


@pytest.mark.parametrize(("name", "seed"), [("expert-json", 1), ("expert-neo4j", 2)])
def test_constrained_output_completes_and_parses(tiny_session, name, seed):
    spec = corpus(name)
    constrained = _generate(tiny_session, spec, seed=seed, tokens=64)
    assert constrained.stopped_by == "eos", constrained
    assert grammar_accepts(spec, tiny_session.tokenizer, constrained.text)
    free = _generate(tiny_session, None, seed=seed, tokens=64)
    # The same random base, unconstrained: noise, which the grammar rejects.
    assert not grammar_accepts(spec, tiny_session.tokenizer, free.text)


@pytest.mark.parametrize("name", GRAMMARS)
def test_every_constrained_output_stays_inside_the_grammar(tiny_session, name):
    spec = corpus(name)
    for seed in (3, 4):
        out = _generate(tiny_session, spec, seed=seed, tokens=24)
        assert _is_prefix(spec, tiny_session, out.text), out.text
        if out.stopped_by == "eos":
            assert grammar_accepts(spec, tiny_session.tokenizer, out.text)
        free = _generate(tiny_session, None, seed=seed, tokens=24)
        assert not _is_prefix(spec, tiny_session, free.text), free.text


def test_sql_grammar_with_the_demo_sql_expert(tiny_session):
    """The bare random base never finishes a SELECT in a few tokens; the demo SQL adapter
    writes the query, and the real SQL grammar (which has no ';') keeps it inside SQL
    where the unconstrained answer ends in ';', which the grammar rejects."""
    from hxpm.runtime.session import AdapterRef, GenerationConfig

    digest = (TINY / "DIGEST").read_text().split()[0]
    tiny_session.use([AdapterRef("expert-sql", "0.1.0", ROOT / "experts/expert-sql", 6, digest)])
    prompt = "List the email column of suppliers"
    try:
        spec = corpus("expert-sql")
        out = tiny_session.generate(prompt, GenerationConfig(max_new_tokens=32, grammar=spec))
        assert out.text.startswith("SELECT email FROM suppliers"), out
        assert _is_prefix(spec, tiny_session, out.text)
        assert grammar_accepts(spec, tiny_session.tokenizer, "SELECT email FROM suppliers")
        free = tiny_session.generate(prompt, GenerationConfig(max_new_tokens=32))
        assert free.text == "SELECT email FROM suppliers;"
        assert not grammar_accepts(spec, tiny_session.tokenizer, free.text)
    finally:
        tiny_session.use([])


def test_json_schema_output_parses_and_validates(tiny_session):
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}},
        "required": ["n", "ok"],
        "additionalProperties": False,
    }
    spec = GrammarSpec.json_schema(schema, "schema.json")
    out = _generate(tiny_session, spec, seed=5, tokens=64, prompt="give me json")
    assert out.stopped_by == "eos", out
    jsonschema.validate(json.loads(out.text), schema)
    free = _generate(tiny_session, None, seed=5, tokens=64, prompt="give me json")
    with pytest.raises(ValueError):
        json.loads(free.text)


def test_run_with_a_real_grammar_from_the_command_line(cli, tiny_session, tmp_path):
    # `hxpm run --grammar` on the bare tiny base (the sampling of the test above, through the
    # CLI): the answer completes, the library's own matcher accepts it, and the record says
    # what constrained it.
    assert cli("base", "add", "hxpm/tiny-qwen3", "--path", TINY).code == 0
    grammar = CORPUS / "expert-neo4j" / "grammar.gbnf"
    r = cli(
        "run", "--prompt", "Write a query for the users table", "--expert", "",
        "--grammar", grammar, "--temperature", "1", "--seed", "2",
        "--device", "cpu", "--max-new-tokens", "64", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    record = r.json()
    assert record["decoding"]["grammar"] == {"kind": "gbnf", "source": str(grammar)}
    assert record["stopped_by"] == "eos", record
    assert grammar_accepts(corpus("expert-neo4j"), tiny_session.tokenizer, record["output"])
    bad = tmp_path / "bad.gbnf"
    bad.write_text('root ::= "a" (\n', encoding="utf-8")
    r = cli("run", "--prompt", "x", "--expert", "", "--grammar", bad, "--device", "cpu")
    assert r.code == 1 and "line" in r.err


def test_answers_of_one_grammar_start_from_copies_that_never_share_state():
    """The second matcher of a grammar is a copy of a pristine one (a server starts one per
    request); advancing one answer must not move another, old or new."""
    from transformers import AutoTokenizer

    from hxpm.runtime.grammar import GrammarMatcher

    tokenizer = AutoTokenizer.from_pretrained(TINY)
    spec = corpus("expert-sql")
    eos = frozenset({258})
    first = GrammarMatcher(spec, tokenizer, eos, len(tokenizer))
    select = tokenizer("SELECT", add_special_tokens=False)["input_ids"]
    for token in select:
        first.consume(token)
    second = GrammarMatcher(spec, tokenizer, eos, len(tokenizer))
    assert second.allows(select[0]) and not second.accepting
    for token in tokenizer(" * FROM t", add_special_tokens=False)["input_ids"]:
        first.consume(token)
    assert first.accepting  # a whole query...
    assert not second.accepting and second.allows(select[0])  # ...in the first answer only
    for token in tokenizer("SELECT a FROM b", add_special_tokens=False)["input_ids"]:
        second.consume(token)
    third = GrammarMatcher(spec, tokenizer, eos, len(tokenizer))
    assert second.accepting and not third.accepting and third.allows(select[0])
