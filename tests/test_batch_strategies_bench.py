"""bench/batch_strategies.py: a row per batch size, each strategy timed on true statements."""
from bench import batch_strategies
from edgeacc.batch import STRATEGIES


def test_each_size_gets_a_row_naming_a_real_strategy_as_fastest(capsys):
    batch_strategies.main(["--t", "1", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "us" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == len(STRATEGIES) + 2
        assert cells[-1] in STRATEGIES and cells[-1] != "auto"
