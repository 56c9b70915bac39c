"""Distributed modulus generation with one OS process per party over TLS on loopback."""
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from edgeacc import _core
from edgeacc.dkg import DkgConfig
from edgeacc.dkg.party import Ceremony, Credentials, TlsNetwork, make_credentials, run_ceremony
from edgeacc.errors import PartyTimeout, PeerDisconnected, ProtocolError


def test_ceremony_with_processes_produces_a_modulus():
    result = run_ceremony(DkgConfig(parties=3, bits=256, timeout=20))
    n = result.n
    assert n.bit_length() == 256 and not _core.is_probable_prime(n)
    assert result.params.insecure
    assert [s.index for s in result.stats] == [1, 2, 3]
    assert all(s.bytes_sent > 0 and s.candidates >= 1 for s in result.stats)


def test_cli_ceremony_prints_the_modulus():
    out = subprocess.run(
        [sys.executable, "-m", "edgeacc.dkg", "ceremony", "-k", "3", "--bits", "256",
         "--timeout", "20", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    report = json.loads(out.stdout)
    n = int(report["n"], 16)
    assert n.bit_length() == 256 and len(report["stats"]) == 3


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_cli_parties_with_explicit_peers(tmp_path):
    """The deployment path: credentials on disk, each party given its peers' addresses."""
    subprocess.run([sys.executable, "-m", "edgeacc.dkg", "credentials", str(tmp_path), "-k", "3"],
                   check=True, capture_output=True, timeout=60)
    ports = _free_ports(3)
    processes = []
    for index in (1, 2, 3):
        peers = [f"--peer={j}=127.0.0.1:{ports[j - 1]}" for j in (1, 2, 3) if j != index]
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "edgeacc.dkg", "party", "--index", str(index), "-k", "3",
             "--bits", "256", "--timeout", "20", "--credentials", str(tmp_path),
             "--listen", f"127.0.0.1:{ports[index - 1]}", *peers],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    try:
        reports = [json.loads(p.communicate(timeout=120)[0]) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert len({r["n"] for r in reports}) == 1
    assert int(reports[0]["n"], 16).bit_length() == 256


def _assert_all_stopped(ceremony):
    assert all(p.poll() is not None for p in ceremony.processes)


def test_killed_party_fails_the_ceremony_cleanly():
    ceremony = Ceremony(DkgConfig(parties=3, bits=1024, timeout=2))
    ceremony.start()
    os.kill(ceremony.processes[2].pid, signal.SIGKILL)
    with pytest.raises((PeerDisconnected, PartyTimeout)) as caught:
        ceremony.finish()
    assert "party 3" in str(caught.value)
    _assert_all_stopped(ceremony)


def test_stalled_party_times_out():
    ceremony = Ceremony(DkgConfig(parties=3, bits=1024, timeout=2))
    ceremony.start()
    os.kill(ceremony.processes[1].pid, signal.SIGSTOP)  # alive but never answers
    with pytest.raises(PartyTimeout):
        ceremony.finish()
    _assert_all_stopped(ceremony)


def test_certificate_from_another_ca_is_refused(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    make_credentials(ours, 2)
    make_credentials(theirs, 2)
    listener = TlsNetwork(1, 2, 2.0, Credentials.in_directory(ours, 1))
    intruder = TlsNetwork(2, 2, 2.0, Credentials.in_directory(theirs, 2))
    try:
        with pytest.raises(ProtocolError, match="TLS"):
            intruder.connect({1: listener.address})
    finally:
        intruder.close()
        listener.close()


def test_tls_channel_carries_messages(tmp_path):
    make_credentials(tmp_path, 2)
    first = TlsNetwork(1, 2, 5.0, Credentials.in_directory(tmp_path, 1))
    second = TlsNetwork(2, 2, 5.0, Credentials.in_directory(tmp_path, 2))
    try:
        second.connect({1: first.address})
        first.connect({2: second.address})
        second.send(1, "ping", [2**2000, b"x"])
        assert first.receive(2, "ping") == [2**2000, b"x"]
        first.send(2, "pong", "ok")
        with pytest.raises(ProtocolError):
            second.receive(1, "other")
    finally:
        second.close()
        first.close()


@pytest.mark.slow
def test_2048_bit_ceremony_gives_secure_params():
    result = run_ceremony(DkgConfig(parties=3, bits=2048, timeout=120))
    assert result.params.bits == 2048 and not result.params.insecure
    assert result.params.generator(b"chain") > 1
