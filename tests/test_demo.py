import edgeacc.__main__ as demo


def test_engine_demo_runs(capsys):
    assert demo.main(["--items", "20"]) == 0
    out = capsys.readouterr().out
    assert "verifies: True" in out and "tampered witness: False" in out
