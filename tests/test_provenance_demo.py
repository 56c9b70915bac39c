"""`edgeacc demo`, shrunk: the honest audit passes, tampering is caught, the plot is written."""
from __future__ import annotations

from ledger.cli import main as cli_main
from ledger.provenance.demo import EDGES, demo_succeeded, format_report, run_demo, write_plot
from ledger.provenance.trainers import Hyperparameters


def test_small_demo_audits_clean_and_catches_tampering(tmp_path, toy):
    hp = Hyperparameters(local_steps=3)
    result = run_demo(tmp_path / "net", rounds=2, hyperparameters=hp, params=toy, audit_fraction=0.5,
                      progress=False)
    assert demo_succeeded(result), format_report(result, 2, hp, "numpy-mlp")
    assert len(result.accuracy) == 3 and result.accuracy[-1] > result.accuracy[0]
    assert len(result.audits) == EDGES and all(len(r.verdicts) == 3 for r in result.audits)
    assert len({r.seed for r in result.audits}) == EDGES  # each audit draws its own fresh sample
    checkpoint_step, _ = result.tampered
    edge0, edge1 = result.tamper_audits
    assert checkpoint_step in edge0.failed_steps and edge1.failed_steps
    assert set(result.status) == {"main", "edge-0", "edge-1", "edge-2"}
    assert all(result.transactions[f"edge-{e}"]["type3"] > 0 for e in range(EDGES))
    assert result.transactions["main"]["type2"] >= EDGES
    plot = tmp_path / "demo.png"
    write_plot(result, plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_script_runs_the_demo(tmp_path, capsys):
    plot = tmp_path / "demo.png"
    assert cli_main(["demo", "--rounds", "1", "--local-steps", "4", "--audit-seed", "0x2a", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "demo: OK" in out and "accuracy per round" in out and plot.exists()
    assert out.count("(sample seed 0x2a)") == EDGES  # a recorded seed reproduces the audits' samples
