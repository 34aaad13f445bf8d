"""`hxpm route --eval` and `--explain` over the demo experts, installed from their source
folders (hxpm builds the packages, with profiles from their real training sets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPERTS = ROOT / "experts"
INDEPENDENT = ROOT / "tests" / "fixtures" / "routing" / "independent.tsv"
CONFIRM = INDEPENDENT.with_name("confirm.tsv")
HOLDOUT = INDEPENDENT.with_name("holdout.tsv")
RULES = INDEPENDENT.with_name("rules.tsv")
BLIND = INDEPENDENT.with_name("blind.tsv")
BLIND2 = INDEPENDENT.with_name("blind2.tsv")
BLIND3 = INDEPENDENT.with_name("blind3.tsv")
BLIND4 = INDEPENDENT.with_name("blind4.tsv")
BLIND5 = INDEPENDENT.with_name("blind5.tsv")
BLIND6 = INDEPENDENT.with_name("blind6.tsv")
BLIND7 = INDEPENDENT.with_name("blind7.tsv")
BLIND8 = INDEPENDENT.with_name("blind8.tsv")
BLIND9 = INDEPENDENT.with_name("blind9.tsv")
BLIND10 = INDEPENDENT.with_name("blind10.tsv")
BLIND11 = INDEPENDENT.with_name("blind11.tsv")
BLIND12 = INDEPENDENT.with_name("blind12.tsv")
BLIND13 = INDEPENDENT.with_name("blind13.tsv")
BLIND14 = INDEPENDENT.with_name("blind14.tsv")
BLIND15 = INDEPENDENT.with_name("blind15.tsv")
BLIND16 = INDEPENDENT.with_name("blind16.tsv")
BLIND17 = INDEPENDENT.with_name("blind17.tsv")
BLIND18 = INDEPENDENT.with_name("blind18.tsv")
BLIND19 = INDEPENDENT.with_name("blind19.tsv")
BLIND20 = INDEPENDENT.with_name("blind20.tsv")
BLIND21 = INDEPENDENT.with_name("blind21.tsv")
BLIND22 = INDEPENDENT.with_name("blind22.tsv")
GENERAL = INDEPENDENT.with_name("general.tsv")
GENERAL2 = INDEPENDENT.with_name("general2.tsv")
GENERAL3 = INDEPENDENT.with_name("general3.tsv")
BLIND23 = INDEPENDENT.with_name("blind23.tsv")
BLIND24 = INDEPENDENT.with_name("blind24.tsv")
BLIND25 = INDEPENDENT.with_name("blind25.tsv")
BLIND26 = INDEPENDENT.with_name("blind26.tsv")
GENERAL4 = INDEPENDENT.with_name("general4.tsv")
GENERAL5 = INDEPENDENT.with_name("general5.tsv")
GENERAL6 = INDEPENDENT.with_name("general6.tsv")
GENERAL7 = INDEPENDENT.with_name("general7.tsv")
GENERAL8 = INDEPENDENT.with_name("general8.tsv")
GENERAL9 = INDEPENDENT.with_name("general9.tsv")
GENERAL10 = INDEPENDENT.with_name("general10.tsv")
GENERAL11 = INDEPENDENT.with_name("general11.tsv")
GENERAL12 = INDEPENDENT.with_name("general12.tsv")
GENERAL13 = INDEPENDENT.with_name("general13.tsv")
GENERAL14 = INDEPENDENT.with_name("general14.tsv")
GENERAL15 = INDEPENDENT.with_name("general15.tsv")
GENERAL16 = INDEPENDENT.with_name("general16.tsv")
GENERAL17 = INDEPENDENT.with_name("general17.tsv")
GENERAL18 = INDEPENDENT.with_name("general18.tsv")
GENERAL19 = INDEPENDENT.with_name("general19.tsv")
GENERAL20 = INDEPENDENT.with_name("general20.tsv")
GENERAL21 = INDEPENDENT.with_name("general21.tsv")
BLIND29 = INDEPENDENT.with_name("blind29.tsv")
BLIND27 = INDEPENDENT.with_name("blind27.tsv")
BLIND28 = INDEPENDENT.with_name("blind28.tsv")


def _scores_at_least(cli, path: Path, correct: int, generic_routed: int) -> None:
    """Every prompt of ``path`` evaluated, at least ``correct`` right and at most
    ``generic_routed`` general prompts sent to an expert."""
    r = cli("route", "--eval", path, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["total"] == _rows(path) and doc["correct"] >= correct, doc["errors"]
    routed = [e for e in doc["errors"] if e["expected"] == "none"]
    assert len(routed) <= generic_routed, doc["errors"]


def _rows(path: Path) -> int:
    """The prompts of an evaluation file: its lines that are neither blank nor comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(1 for line in lines if line.strip() and not line.startswith("#"))


def test_eval_independent_set_json(cli, demo) -> None:
    r = cli("route", "--eval", INDEPENDENT, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "hxpm.route-eval/1"
    assert doc["total"] >= 100 and doc["experts"] == 7
    assert doc["accuracy"] >= 0.95, doc["errors"]
    # Measured (docs/routing.md, "Measured"): 117 of 117, no general request routed.
    assert doc["correct"] == doc["total"] == 117, doc["errors"]
    classes = {c["name"]: c for c in doc["classes"]}
    assert set(classes) >= {"expert-sql", "expert-cypher", "none"}
    assert classes["none"]["support"] >= 25
    assert all(0 <= c["recall"] <= 1 for c in classes.values() if c["recall"] is not None)
    assert sum(x["count"] for x in doc["confusion"]) == doc["total"]
    assert doc["slowest"]["ms"] < 50 and doc["slowest"]["prompt"]


def test_later_hand_written_sets(cli, demo) -> None:
    """The sets written after independent.tsv had shaped the router (docs/routing.md,
    "Measured"): everyday senses stay with the bare base, accuracy holds its measured floor."""
    r = cli("route", "--eval", HOLDOUT, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["total"] == 42 and doc["correct"] == 42, doc["errors"]
    assert not [e for e in doc["errors"] if e["expected"] == "none"], doc["errors"]
    r = cli("route", "--eval", CONFIRM, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    # 30 of 40 at first, 34 with everyday senses, 40 with shapes, synonyms, editing requests
    # and the technical floor (docs/routing.md, "Measured").
    assert doc["total"] == 40 and doc["correct"] == 40, doc["errors"]
    # Written with the shape/synonym/editing rules, traps included: 54 of 72 before, 68 with
    # them, 69 with the sentence types' grammar terms ("an exclamation or a statement").
    r = cli("route", "--eval", RULES, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["total"] == 72 and doc["correct"] >= 71, doc["errors"]
    assert not [e for e in doc["errors"] if e["expected"] == "none"], doc["errors"]


@pytest.mark.parametrize(
    ("path", "correct", "generic_routed"),
    [
        (BLIND, 90, 0),
        (BLIND2, 90, 0),
        (BLIND3, 88, 0),
        (BLIND4, 90, 0),
        (BLIND5, 90, 0),
        (BLIND6, 90, 0),
        (BLIND7, 90, 0),
        (BLIND8, 90, 0),
        (BLIND9, 90, 0),
        (BLIND10, 89, 0),
        (BLIND11, 90, 0),
        (BLIND12, 90, 0),
        (BLIND13, 90, 0),
        (BLIND14, 90, 0),
        (BLIND15, 90, 0),
        (BLIND16, 90, 0),
        (BLIND17, 90, 0),
        (BLIND18, 90, 0),
        (BLIND19, 90, 0),
        (BLIND20, 90, 0),
        (BLIND21, 90, 0),
        (BLIND22, 90, 0),
        (BLIND23, 90, 0),
        (BLIND24, 90, 0),
        (BLIND25, 88, 0),
        (BLIND26, 89, 1),
        (BLIND27, 90, 0),
        (BLIND28, 90, 0),
        (BLIND29, 90, 0),
        (INDEPENDENT.with_name("blind30.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind31.tsv"), 85, 0),
        (INDEPENDENT.with_name("blind32.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind33.tsv"), 90, 0),
        (INDEPENDENT.with_name("blind34.tsv"), 87, 0),
        (INDEPENDENT.with_name("blind35.tsv"), 84, 0),
        (INDEPENDENT.with_name("blind36.tsv"), 82, 0),
        (INDEPENDENT.with_name("blind37.tsv"), 80, 0),
        (INDEPENDENT.with_name("blind38.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind39.tsv"), 83, 0),
        (INDEPENDENT.with_name("blind40.tsv"), 82, 0),
        (INDEPENDENT.with_name("blind41.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind42.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind43.tsv"), 84, 0),
        (INDEPENDENT.with_name("blind44.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind45.tsv"), 83, 0),
        (INDEPENDENT.with_name("blind46.tsv"), 82, 1),
        (INDEPENDENT.with_name("blind47.tsv"), 85, 0),
        (INDEPENDENT.with_name("blind48.tsv"), 81, 0),
        (INDEPENDENT.with_name("blind49.tsv"), 88, 0),
        (INDEPENDENT.with_name("blind50.tsv"), 78, 0),
        (INDEPENDENT.with_name("blind51.tsv"), 78, 0),
        (INDEPENDENT.with_name("blind52.tsv"), 79, 1),
        (INDEPENDENT.with_name("blind53.tsv"), 89, 0),
        (INDEPENDENT.with_name("blind54.tsv"), 79, 0),
        (INDEPENDENT.with_name("blind55.tsv"), 80, 0),
        (INDEPENDENT.with_name("blind56.tsv"), 77, 0),
        (INDEPENDENT.with_name("blind57.tsv"), 83, 0),
        (INDEPENDENT.with_name("blind58.tsv"), 82, 0),
        (INDEPENDENT.with_name("blind59.tsv"), 82, 0),
        (INDEPENDENT.with_name("blind60.tsv"), 78, 1),
        (INDEPENDENT.with_name("blind61.tsv"), 76, 0),
        (INDEPENDENT.with_name("blind62.tsv"), 84, 0),
        (INDEPENDENT.with_name("blind63.tsv"), 82, 0),
        (INDEPENDENT.with_name("blind64.tsv"), 79, 0),
        (INDEPENDENT.with_name("blind65.tsv"), 77, 0),
        (INDEPENDENT.with_name("blind66.tsv"), 81, 0),
        (INDEPENDENT.with_name("blind67.tsv"), 83, 0),
        (INDEPENDENT.with_name("blind68.tsv"), 76, 0),
        (INDEPENDENT.with_name("blind69.tsv"), 74, 0),
        (INDEPENDENT.with_name("blind70.tsv"), 80, 0),
        (INDEPENDENT.with_name("blind71.tsv"), 77, 0),
        (INDEPENDENT.with_name("blind72.tsv"), 83, 0),
        (INDEPENDENT.with_name("blind73.tsv"), 77, 0),
        (INDEPENDENT.with_name("blind74.tsv"), 80, 0),
        (INDEPENDENT.with_name("blind75.tsv"), 82, 0),
        (INDEPENDENT.with_name("blind76.tsv"), 74, 0),
        (INDEPENDENT.with_name("blind77.tsv"), 90, 0),
        (INDEPENDENT.with_name("blind78.tsv"), 88, 0),
        (INDEPENDENT.with_name("blind79.tsv"), 92, 0),
        (INDEPENDENT.with_name("blind80.tsv"), 87, 1),
        (INDEPENDENT.with_name("blind81.tsv"), 89, 0),
        (INDEPENDENT.with_name("blind84.tsv"), 90, 1),
        (INDEPENDENT.with_name("blind85.tsv"), 84, 0),
        (INDEPENDENT.with_name("blind86.tsv"), 84, 0),
        (INDEPENDENT.with_name("blind87.tsv"), 84, 0),
        (INDEPENDENT.with_name("blind88.tsv"), 87, 0),
        (INDEPENDENT.with_name("blind89.tsv"), 92, 1),
        (INDEPENDENT.with_name("blind90.tsv"), 86, 0),
        (INDEPENDENT.with_name("blind91.tsv"), 85, 0),
    ],
    ids=[f"blind{n}" for n in ("", *range(2, 82), *range(84, 92))],
)
def test_blind_sets(cli, demo, path, correct, generic_routed) -> None:
    """Written blind by people who had not seen the router, each run once before anything
    was tuned on it: 80, 83, 78, 78, 87, 86, 85, 87, 83, 84, 82, 87, 86, 90, 89, 88, 85, 87,
    87, 87, 87, 89, 87, 85, 83, 88, 87, 88 and 89 of 90 then, and 85/88, 85/85, 85/86,
    88/90, 86/87, 81/87, 82/82, 78/82, 83/87, 83/84, 82/83, 84/87, 85/86, 81/86, 86/86, 83/84,
    81/84, 85/85, 81/83, 86/88, 78/80, 78/79, 79/81, 88/89, 78/82, 79/81, 77/79, 79/83,
    81/82, 80/82, 78/81, 75/78, 84/85, 81/82, 79/80, 73/81, 80/81, 78/83, 76/78, 72/77,
    78/81, 76/79, 79/84 and 75/80 for blind30 to blind73, 80/82, 81/86 and 74/76 for
    blind74 to blind76 (held out until round 23 took their place), 89/93 for blind77 and
    87/96 and 90/95 for blind78 and blind79 (held out at b509f7a), 87/93 and 89/93 for
    blind80 and blind81 (held out at 2f37798), 89/93 and 83/88 for blind84 and blind85 (held
    out at 303d408), 84/87 and 84/90 for blind86 and blind87 (held out at 1ec64b9), 80/90 and
    85/93 for blind88 and blind89 (held out at 76a4af3), 85/88 and 83/91 for blind90 and
    blind91 (held out at 96e390b) (near copies
    of other sets left out; the honest unseen figures are in each file's header and
    docs/routing.md).
    Their misses led to general rules; these are the development scores since, as floors."""
    _scores_at_least(cli, path, correct, generic_routed)


@pytest.mark.parametrize(
    ("path", "total", "correct"),
    [
        (GENERAL, 2052, 2052),
        (GENERAL2, 853, 853),
        (GENERAL3, 846, 846),
        (GENERAL4, 799, 798),
        (GENERAL5, 833, 833),
        (GENERAL6, 535, 535),
        (GENERAL7, 1364, 1364),
        (GENERAL8, 1368, 1367),
        (GENERAL9, 1405, 1405),
        (GENERAL10, 1383, 1383),
        (GENERAL11, 1567, 1567),
        (GENERAL12, 1309, 1307),
        (GENERAL13, 1343, 1341),
        (GENERAL14, 1340, 1337),
        (GENERAL15, 1385, 1384),
        (GENERAL16, 1329, 1329),
        (GENERAL17, 1376, 1375),
        (GENERAL18, 1383, 1380),
        (GENERAL19, 1271, 1270),
        (GENERAL20, 1378, 1377),
        (GENERAL21, 1280, 1277),
        (INDEPENDENT.with_name("general22.tsv"), 1310, 1309),
        (INDEPENDENT.with_name("general23.tsv"), 1863, 1860),
        (INDEPENDENT.with_name("general24.tsv"), 1337, 1327),
        (INDEPENDENT.with_name("general25.tsv"), 1934, 1916),
        (INDEPENDENT.with_name("general27.tsv"), 1961, 1904),
        (INDEPENDENT.with_name("general28.tsv"), 1959, 1935),
        (INDEPENDENT.with_name("general29.tsv"), 1963, 1951),
        (INDEPENDENT.with_name("general30.tsv"), 1962, 1946),
    ],
)
def test_general_prompts_stay_with_the_base(cli, demo, path, total, correct) -> None:
    """General prompts from writers who had not seen the router, a quarter of them with a
    word that also names a technology. First runs: 44 of 2,052 went to an expert (2.1%),
    then 12 of 853 (1.4%) after the rules general.tsv led to, 11 of 846 (1.3%), 17 of 799
    (2.1%), 7 of 833 (0.8%), 5 of 535 (0.9%), 16 of 1,364 (1.2%), 9 of 1,368 (0.7%), 10 of
    1,405 (0.7%), 5 of 1,383 (0.4%), 16 of 1,567 (1.0%) and, with the intent model, 9 of
    1,309 (0.7%), 11 of 1,343 (0.8%; 22 without the model) and, with the stricter veto of
    a prompt naming its language, 13 of 1,340 (1.0%; 28 at the start of that stop), 10 of
    1,385 (0.7%; 18), 6 of 1,329 (0.45%; 9), 14 of 1,376 (1.0%; 15), 4 of 1,383 (0.29%;
    6), 7 of 1,271 (0.55%) and, with the strictest bar for an artifact asked for, 2 of 1,378
    (0.15%) and 4 of 1,280 (0.31%), 1 of 1,310 (0.08%, general22, held out until round 23
    took its place), 16 of 1,863 (0.86%, general23), 26 of 1,337 (1.9%, general24, held out
    at b509f7a, its writers asked for more words an expert also uses), 26 of 1,934 (1.3%,
    general25, held out at 2f37798), 83 of 1,961 (4.2%, general27, held out at 303d408,
    aimed at technical talk in prose), 41 of 1,959 (2.1%, general28, held out at 1ec64b9)
    31 of 1,963 (1.6%, general29, held out at 76a4af3) and 20 of 1,962 (1.0%, general30,
    held out at 96e390b); the rules and the model trained on them leave 0, 0, 0, 1, 0, 0,
    0, 1, 0, 0, 0, 2, 2, 3, 1, 0, 1, 3, 1, 1, 3, 1, 3, 10 and 18 at 9d769e2, 59 of general27
    at 1ec64b9, 55 of general27 and 22 of general28 after round 27, 12 of general29 after
    round 28 and 16 of general30 after round 29 (docs/routing.md, "Measured").
    Each retraining moves a few borderline prompts either way, so a floor may drop by one
    or two."""
    r = cli("route", "--eval", path, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["total"] == total, doc["total"]
    assert doc["correct"] >= correct, [e["prompt"] for e in doc["errors"]]


HELD_OUT = ROOT / "tests" / "fixtures" / "routing_heldout"


@pytest.mark.parametrize(
    ("name", "correct", "generic_routed"),
    [
        ("general26", 1942, 29),
        ("blind82", 89, 2),
        ("blind83", 87, 1),
        ("general31", 1959, 7),
        ("blind92", 82, 0),
        ("blind93", 74, 1),
    ],
)
def test_held_out_sets(cli, demo, name, correct, generic_routed) -> None:
    """Round 25, written blind while the router of 303d408 was being built, and round 30,
    written while 7056962's was, never trained or tuned on
    (tests/fixtures/routing_heldout/README.md): the router's scores on prompts it had not
    seen on their one run. These are that run's scores, as floors."""
    _scores_at_least(cli, HELD_OUT / f"{name}.tsv", correct, generic_routed)


def test_the_intent_model_never_reads_the_held_out_sets() -> None:
    # scripts/train_intent_model.py reads tests/fixtures/routing/*.tsv: the held-out folder
    # is beside it, and none of its prompts is in a training set
    def prompts(folder: Path) -> set[str]:
        lines = (line for f in folder.glob("*.tsv") for line in f.read_text("utf-8").splitlines())
        return {line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")}

    held, trained = prompts(HELD_OUT), prompts(INDEPENDENT.parent)
    assert len(held) > 1500 and len(trained) > 35000
    assert not held & trained


def _heldout_jsonl_and_table(cli, tmp_path: Path) -> None:
    lines = []
    for name in ("expert-sql", "expert-cypher"):
        for line in (EXPERTS / name / "datasets" / "heldout.jsonl").read_text().splitlines():
            lines.append(json.dumps({"prompt": json.loads(line)["prompt"], "expected": name}))
    lines.append(json.dumps({"prompt": "Why is the sky blue?", "expected": None}))
    path = tmp_path / "heldout.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = cli("route", "--eval", path)
    assert r.code == 0, r.err
    assert "accuracy 100.0%" in r.out
    assert "precision" in r.out and "expert-cypher" in r.out


def test_jsonl_table_and_explain(cli, demo, tmp_path: Path) -> None:
    _heldout_jsonl_and_table(cli, tmp_path)
    _explain_shows_the_profile_and_aliases(cli)


def _explain_shows_the_profile_and_aliases(cli) -> None:
    r = cli("route", "--explain", "write a postgres query that returns the ten most recent orders")
    assert r.code == 0, r.err
    assert "alias 'postgres'" in r.out
    assert "training-prompt profile" in r.out
    r = cli("route", "Summarize the French revolution in two sentences.", "--json")
    assert r.json()["decision"]["chosen"] is None


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("just a prompt without a label\n", ".tsv", "expected 'prompt<TAB>expected"),
        ('{"prompt": 3, "expected": "x"}\n', ".jsonl", "expected string fields"),
        ("{not json\n", ".jsonl", "not a JSON line"),
        ("# only a comment\n", ".tsv", "no labelled prompts"),
    ],
)
def test_bad_eval_files_are_refused(cli, tmp_path, content, suffix, message) -> None:
    path = tmp_path / f"eval{suffix}"
    path.write_text(content)
    r = cli("route", "--eval", path)
    assert r.code == 1
    assert message in r.err and "Traceback" not in r.err


def test_prompt_and_eval_are_exclusive(cli, tmp_path) -> None:
    assert cli("route").code == 2
    assert cli("route", "sql", "--eval", INDEPENDENT).code == 2
    assert cli("route", "--eval", tmp_path / "missing.tsv").code == 4
