"""The `edgeacc` console script's ledger commands, run in-process through ledger.cli.main."""
import json

import pytest

from ledger import cli


@pytest.fixture(scope="module")
def datadir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "net"
    assert cli.main(["init", str(d), "--subchains", "2", "--peers", "2"]) == 0
    return d


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_submit_interlock_verify_inspect(datadir, capsys, tmp_path):
    code, out, _ = run(capsys, "submit", datadir, "--chain", "edge-0", "--data", "hello")
    assert code == 0
    tx_id = out.split()[0]
    assert len(bytes.fromhex(tx_id)) == 32
    code, out, _ = run(capsys, "verify", datadir, tx_id, "--from", "edge-1")
    assert code == 1 and out.startswith("REJECTED (no-main-status)")
    assert run(capsys, "interlock", datadir)[0] == 0
    code, out, _ = run(capsys, "verify", datadir, tx_id, "--from", "edge-1")
    assert code == 0 and out.startswith("VALID")
    code, out, _ = run(capsys, "inspect", datadir, "edge-0", 0)
    block = json.loads(out)
    assert code == 0 and block["height"] == 0 and block["transactions"][0]["id"] == tx_id
    assert sorted(block["endorsements"]) == ["edge-0.peer0", "edge-0.peer1"]
    code, out, _ = run(capsys, "status", datadir)
    status = json.loads(out)
    assert code == 0 and status["main"]["type2_anchored"]["edge-0"] == 0


def test_submit_file_as_object_and_lines(datadir, capsys, tmp_path):
    f = tmp_path / "reading.bin"
    f.write_bytes(b"\x00\x01" * 1000)
    code, out, _ = run(capsys, "submit", datadir, "--chain", "edge-1", "--file", f, "--object",
                       "--signer", "sensor-1", "--role", "device")
    assert code == 0
    code, out, _ = run(capsys, "inspect", datadir, "edge-1")
    assert json.loads(out)["transactions"][0]["object"].startswith("file://")
    lines = tmp_path / "records.txt"
    lines.write_text("a\nb\nc\n")
    code, out, _ = run(capsys, "submit", datadir, "--chain", "edge-1", "--lines", lines, "--interlock")
    assert code == 0 and len(out.splitlines()) == 3


def test_errors_exit_2_with_a_message(datadir, capsys, tmp_path):
    code, _, err = run(capsys, "submit", datadir, "--chain", "edge-7", "--data", "x")
    assert code == 2 and "edge-7" in err
    code, _, err = run(capsys, "status", tmp_path / "nothing")
    assert code == 2 and "error" in err
    code, _, err = run(capsys, "inspect", datadir, "edge-0", 999)
    assert code == 2 and "999" in err
    code, _, err = run(capsys, "init", datadir)
    assert code == 2 and "not empty" in err
    code, out, _ = run(capsys, "verify", datadir, "00" * 32, "--from", "edge-0")
    assert code == 1 and "unknown-transaction" in out
    with pytest.raises(SystemExit):
        cli.main(["submit", str(datadir)])  # argparse: --chain and a payload are required


def test_revoke_then_submit_is_refused(datadir, capsys):
    assert run(capsys, "submit", datadir, "--chain", "edge-0", "--data", "x", "--signer", "temp-1")[0] == 0
    assert run(capsys, "revoke", datadir, "temp-1")[0] == 0
    code, _, err = run(capsys, "submit", datadir, "--chain", "edge-0", "--data", "y", "--signer", "temp-1")
    assert code == 2 and "revoked" in err


def test_selftest_still_works(capsys):
    code, out, _ = run(capsys, "selftest", "--items", 20)
    assert code == 0 and "verifies: True" in out
