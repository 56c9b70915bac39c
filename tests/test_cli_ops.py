"""The console script as an operator meets it: usage errors, --quiet, logging, progress bars
only on a terminal, Ctrl-C, --version (the commands themselves: tests/test_ledger_cli.py)."""
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import edgeacc
from ledger import cli

ROOT = Path(__file__).resolve().parent.parent


def edgeacc_cmd(*argv) -> list[str]:
    return [sys.executable, "-m", "ledger.cli", *map(str, argv)]


def spawn(*argv, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen(edgeacc_cmd(*argv), cwd=ROOT, env=env, **kw)


@pytest.fixture(scope="module")
def datadir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-ops") / "net"
    assert cli.main(["init", str(d), "--subchains", "1", "--peers", "2", "--quiet"]) == 0
    return d


@pytest.mark.parametrize("txid", ["zz", "00" * 31, "00" * 33, "0" * 63, ""])
def test_malformed_transaction_id_is_a_usage_error(datadir, capsys, txid):
    with pytest.raises(SystemExit) as exc:
        cli.main(["verify", str(datadir), txid, "--from", "main"])
    err = capsys.readouterr()
    assert exc.value.code == 2
    assert "not a transaction id" in err.err and "REJECTED" not in err.out


def test_quiet_before_or_after_the_command_silences_information(tmp_path, capsys):
    assert cli.main(["init", str(tmp_path / "a"), "--subchains", "1"]) == 0
    assert "created" in capsys.readouterr().err
    assert cli.main(["--quiet", "init", str(tmp_path / "b"), "--subchains", "1"]) == 0
    assert cli.main(["init", str(tmp_path / "c"), "--subchains", "1", "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["-q", "status", str(tmp_path / "missing")]) == 2  # errors still show
    assert "error" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"edgeacc {edgeacc.__version__}"


def submit_lines(datadir, tmp_path, stderr, *extra):
    lines = tmp_path / "records.txt"
    lines.write_text("".join(f"record {i}\n" for i in range(5)))
    p = spawn("submit", datadir, "--chain", "edge-0", "--lines", lines, *extra,
              stdout=subprocess.DEVNULL, stderr=stderr)
    assert p.wait(timeout=120) == 0


def on_terminal(datadir, tmp_path, *extra) -> bytes:
    """What `submit --lines` shows on stderr when stderr is an 80-column terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        submit_lines(datadir, tmp_path, slave, *extra)
        os.close(slave)
        shown = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            shown += chunk
        return shown
    finally:
        os.close(master)


def test_progress_bars_only_on_a_terminal(datadir, tmp_path):
    log = tmp_path / "log"
    with open(log, "w") as f:
        submit_lines(datadir, tmp_path, f)
    assert "\r" not in log.read_text() and "committing" not in log.read_text()
    assert b"committing" in on_terminal(datadir, tmp_path)
    assert b"committing" not in on_terminal(datadir, tmp_path, "--quiet")


def test_ctrl_c_exits_130_without_a_traceback():
    p = spawn("selftest", "--items", "1000000", stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("modulus:")  # in the command, imports done
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert "Traceback" not in err and "interrupted" in err
