"""bench/trace_stages.py: the per-transaction stages of a table1 EDGEACC_TRACE file."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def trace_stages():
    spec = importlib.util.spec_from_file_location("trace_stages", ROOT / "bench" / "trace_stages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_transaction_gets_its_blocks_stages_and_its_own_queue_and_delivery():
    lines = [
        json.dumps({"h": 3, "n": 2, "t": 10.0, "stages": [0.01, 0.02, 0.03, 0.04, 0.05]}),
        json.dumps({"h": 4, "n": 1, "t": 20.0, "stages": [0.1, 0.2]}),  # (cut short: left out)
        json.dumps({"s": 9.9, "c": 10.2, "h": 3}),
        json.dumps({"s": 9.8, "c": 10.25, "h": 3}),
        json.dumps({"s": 19.0, "c": 21.0, "h": 4}),
        json.dumps({"s": 30.0, "c": 31.0, "h": 9}),  # (no block line)
    ]
    series, blocks = trace_stages().breakdown(lines)
    assert blocks == 2
    assert series["queue"] == pytest.approx([0.1, 0.2])
    assert series["endorse"] == pytest.approx([0.02, 0.02])
    assert series["deliver"] == pytest.approx([0.05, 0.10])
    assert series["total"] == pytest.approx([0.3, 0.45])
    for name in ("queue", "propose", "endorse", "append", "store", "attest", "deliver"):
        assert len(series[name]) == 2


def test_main_says_when_no_transaction_has_its_block(tmp_path, capsys):
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps({"s": 1.0, "c": 2.0, "h": 0}) + "\n")
    assert trace_stages().main([str(path)]) == 1
    assert "no transaction" in capsys.readouterr().out
