"""Parties as separate OS processes over mutually authenticated TLS 1.3 on loopback.

Each party holds an Ed25519 key and an X.509 certificate (subject/SAN ``party-<i>``) issued
by the deployment's CA; it accepts only peers whose certificate chains to that CA and
names the party index it claims. Party i dials every party j < i and accepts every j > i,
so each pair has exactly one connection. TLS also keeps the private shares confidential.

:class:`Ceremony` is the local launcher behind ``python -m edgeacc.dkg ceremony``: it makes a
throw-away CA and one key per party (a real deployment uses its own CA and runs
``python -m edgeacc.dkg party`` on each machine), starts k processes and collects N.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import queue
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgeacc import errors
from edgeacc.dkg.protocol import DkgConfig, DkgResult, Party, PartyStats
from edgeacc.dkg.wire import Network
from edgeacc.errors import DkgError, PartyTimeout, PeerDisconnected, ProtocolError
from edgeacc.params import CEREMONY, Params

MAX_FRAME_BYTES = 64 << 20
CONNECT_RETRY_SECONDS = 0.05
# A party process needs this long at most to start and listen (imports on a loaded host);
# independent of the per-message timeout, which can be much shorter.
STARTUP_SECONDS = 60.0


def party_name(index: int) -> str:
    return f"party-{index}"


@dataclass(frozen=True)
class Credentials:
    """Paths of the CA certificate and one party's certificate and private key (PEM)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_directory(cls, directory: Path, index: int) -> "Credentials":
        """The layout :func:`make_credentials` writes: ca.pem, party-<i>.pem, party-<i>.key."""
        return cls(directory / "ca.pem", directory / f"{party_name(index)}.pem",
                   directory / f"{party_name(index)}.key")


def make_credentials(directory: Path, parties: int, valid_days: int = 1) -> None:
    """Write a fresh Ed25519 CA and one Ed25519 key + certificate per party into directory."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgeacc-dkg-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, None)
    )
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for index in range(1, parties + 1):
        key = ed25519.Ed25519PrivateKey.generate()
        name = party_name(index)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=valid_days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, None)
        )
        paths = Credentials.in_directory(directory, index)
        paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.key.touch(mode=0o600)
        paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))


def _tls_context(credentials: Credentials, server: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(credentials.cert, credentials.key)
    context.load_verify_locations(credentials.ca)
    context.verify_mode = ssl.CERT_REQUIRED  # servers demand client certificates too
    return context


def _certificate_index(peercert: dict | None) -> int | None:
    """The party index in a verified peer certificate's common name, if any."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and value.startswith("party-") and value[6:].isdigit():
                return int(value[6:])
    return None


class TlsNetwork(Network):
    """Channels to the other parties over TLS; an asyncio loop in a background thread owns
    the sockets and drains every inbound connection into a per-peer queue, so a party busy
    computing never stalls a sender."""

    def __init__(self, index: int, parties: int, timeout: float, credentials: Credentials,
                 host: str = "127.0.0.1", port: int = 0, record: bool = False):
        super().__init__(index, parties, timeout, record)
        self._server_context = _tls_context(credentials, server=True)
        self._client_context = _tls_context(credentials, server=False)
        self._inboxes: dict[int, queue.Queue] = {peer: queue.Queue() for peer in self.peers}
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._readers: list[asyncio.Task] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._all_connected: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self.address = self._call(self._listen(host, port))

    def _call(self, coroutine, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self, host: str, port: int) -> tuple[str, int]:
        self._all_connected = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, host, port, ssl=self._server_context)
        return self._server.sockets[0].getsockname()[:2]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _certificate_index(writer.get_extra_info("peercert"))
        if peer is None or peer not in self._inboxes or peer < self.index or peer in self._writers:
            writer.close()  # wrong direction, unknown or duplicate party
            return
        self._attach(peer, reader, writer)

    def _attach(self, peer: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers[peer] = writer
        self._readers.append(self._loop.create_task(self._drain_inbound(peer, reader)))
        if len(self._writers) == len(self._inboxes):
            self._all_connected.set()

    async def _drain_inbound(self, peer: int, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(4), "big")
                if size > MAX_FRAME_BYTES:
                    break
                self._inboxes[peer].put(await reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._inboxes[peer].put(None)  # receive() turns this into PeerDisconnected

    async def _dial(self, peers: dict[int, tuple[str, int]]) -> None:
        deadline = self._loop.time() + self.timeout
        for peer in sorted(j for j in peers if j < self.index):
            host, port = peers[peer]
            while True:
                try:
                    # check_hostname (on by default for clients) matches the SAN party-<j>.
                    reader, writer = await asyncio.open_connection(
                        host, port, ssl=self._client_context, server_hostname=party_name(peer))
                    break
                except ssl.SSLError as exc:
                    raise ProtocolError(f"party {self.index}: TLS with party {peer} failed: {exc}") from None
                except OSError:
                    if self._loop.time() > deadline:
                        raise PartyTimeout(f"party {self.index}: cannot reach party {peer} at {host}:{port}") from None
                    await asyncio.sleep(CONNECT_RETRY_SECONDS)
            self._attach(peer, reader, writer)
        try:
            await asyncio.wait_for(self._all_connected.wait(), max(0.0, deadline - self._loop.time()))
        except asyncio.TimeoutError:
            missing = sorted(set(self._inboxes) - set(self._writers))
            raise PartyTimeout(f"party {self.index}: parties {missing} never connected") from None

    def connect(self, peers: dict[int, tuple[str, int]]) -> None:
        """Open the channels to every other party (``peers`` maps index -> (host, port))."""
        self._call(self._dial(peers))

    async def _write(self, peer: int, data: bytes) -> None:
        writer = self._writers[peer]
        if writer.is_closing():
            raise ConnectionResetError
        writer.write(len(data).to_bytes(4, "big") + data)
        await writer.drain()

    def _deliver(self, peer: int, data: bytes) -> None:
        try:
            self._call(self._write(peer, data), self.timeout)
        except (ConnectionError, OSError):
            raise PeerDisconnected(f"party {self.index}: channel to party {peer} closed") from None
        except TimeoutError:
            raise PartyTimeout(f"party {self.index}: party {peer} stopped reading") from None

    def _inbox(self, peer: int) -> queue.Queue:
        return self._inboxes[peer]

    async def _shutdown(self) -> None:
        for writer in self._writers.values():
            writer.close()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self._server is not None:
            self._server.close()

    def close(self) -> None:
        if self._loop.is_running():
            try:
                self._call(self._shutdown(), 5.0)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(5.0)
                if not self._thread.is_alive():
                    self._loop.close()


def run_party(index: int, config: DkgConfig, credentials: Credentials,
              listen: tuple[str, int], peers: dict[int, tuple[str, int]] | None) -> dict:
    """Run one party to completion and return its report (N in hex and statistics).

    With ``peers=None`` the party prints ``LISTENING host port`` on stdout and reads the peer
    table as one JSON line from stdin (how :class:`Ceremony` wires processes together).
    """
    network = TlsNetwork(index, config.parties, config.timeout, credentials, *listen)
    try:
        if peers is None:
            print("LISTENING", *network.address, flush=True)
            table = json.loads(sys.stdin.readline())
            peers = {int(j): (host, int(port)) for j, (host, port) in table.items()}
        network.connect(peers)
        party = Party(index, config, network)
        n = party.run()
        return {"party": index, "n": hex(n), "stats": party.stats.as_dict()}
    finally:
        network.close()


class Ceremony:
    """A local k-party ceremony with one OS process per party (``start`` then ``finish``)."""

    def __init__(self, config: DkgConfig, grace_seconds: float | None = None):
        config = DkgConfig.checked(config)
        self.config = config
        # Long enough for the others to notice by their own message timeout and say why.
        self.grace_seconds = config.timeout + 2.0 if grace_seconds is None else grace_seconds
        self.processes: list[subprocess.Popen] = []
        self._directory = tempfile.TemporaryDirectory(prefix="edgeacc-dkg-")
        self._started = 0.0

    def start(self) -> None:
        """Make credentials, spawn the parties, and hand each the others' addresses."""
        directory = Path(self._directory.name)
        make_credentials(directory, self.config.parties)
        self._started = time.perf_counter()
        c = self.config
        for index in range(1, c.parties + 1):
            command = [sys.executable, "-m", "edgeacc.dkg", "party", "--index", str(index),
                       "--parties", str(c.parties), "--bits", str(c.bits),
                       "--threshold", str(c.degree), "--soundness-bits", str(c.soundness_bits),
                       "--batch-size", str(c.batch_size), "--timeout", str(c.timeout),
                       "--credentials", str(directory), "--listen", "127.0.0.1:0",
                       "--peers-from-stdin"]
            if c.max_candidates is not None:
                command += ["--max-candidates", str(c.max_candidates)]
            stderr = open(directory / f"party-{index}.log", "wb")
            self.processes.append(subprocess.Popen(command, stdin=subprocess.PIPE,
                                                   stdout=subprocess.PIPE, stderr=stderr))
            stderr.close()
        try:
            table = {}
            for index, process in enumerate(self.processes, start=1):
                words = self._read_line(process, index).split()
                if len(words) != 3 or words[0] != "LISTENING":
                    raise ProtocolError(f"party {index} did not start: {self._log_tail(index)}")
                table[index] = [words[1], int(words[2])]
            line = (json.dumps(table) + "\n").encode()
            for process in self.processes:
                process.stdin.write(line)
                process.stdin.close()
        except BaseException:
            self._stop_all()
            raise

    def _read_line(self, process: subprocess.Popen, index: int) -> str:
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        if not ready:
            raise PartyTimeout(f"party {index} did not start within {STARTUP_SECONDS:g} s")
        return process.stdout.readline().decode()

    def finish(self) -> DkgResult:
        """Wait for the parties; return the common modulus or raise the first party's error.
        Once one party has failed the others get ``grace_seconds`` (default: the message
        timeout + 2 s, so they can report their own view) and are then killed."""
        try:
            failed_at = None
            while any(p.poll() is None for p in self.processes):
                if failed_at is None and any(p.poll() not in (None, 0) for p in self.processes):
                    failed_at = time.monotonic()
                if failed_at is not None and time.monotonic() - failed_at > self.grace_seconds:
                    break
                time.sleep(0.05)
            wall = time.perf_counter() - self._started
            reports = [self._report(index, process) for index, process in
                       enumerate(self.processes, start=1)]
        finally:
            self._stop_all()
        problems = [r for r in reports if "n" not in r]
        if problems:
            raise _error_from_report(min(problems, key=_blame_order))
        moduli = {int(r["n"], 16) for r in reports}
        if len(moduli) != 1:
            raise ProtocolError("parties reported different moduli")
        n = moduli.pop()
        params = Params._labelled(n, CEREMONY)
        stats = [PartyStats(**r["stats"]) for r in reports]
        return DkgResult(params, stats, wall, self.config)

    def _report(self, index: int, process: subprocess.Popen) -> dict:
        if process.poll() is None:
            return {"party": index, "error": "PartyTimeout", "blame": 3,
                    "message": f"party {index} was still running after another party failed"}
        out = process.stdout.read().decode().strip().splitlines()
        try:
            return json.loads(out[-1])
        except (IndexError, json.JSONDecodeError):
            how = (f"was killed by signal {-process.returncode}" if process.returncode < 0
                   else f"exited with status {process.returncode}")
            return {"party": index, "error": "PeerDisconnected", "blame": 0,
                    "message": f"party {index} {how}: {self._log_tail(index)}"}

    def _log_tail(self, index: int) -> str:
        log = Path(self._directory.name) / f"party-{index}.log"
        return log.read_text(errors="replace")[-400:] if log.exists() else ""

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)  # also ends a SIGSTOPped party
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None and not stream.closed:
                    stream.close()
        self._directory.cleanup()


def _blame_order(report: dict) -> tuple[int, int]:
    """Root cause first: a party that died, then a party's own error, then the disconnects
    and stalls that failure caused elsewhere."""
    blame = report.get("blame", 2 if report.get("error") == "PeerDisconnected" else 1)
    return blame, report["party"]


def _error_from_report(report: dict) -> DkgError:
    cls = getattr(errors, report.get("error", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, DkgError)):
        cls = DkgError
    return cls(report.get("message", "party failed"))


def run_ceremony(config: DkgConfig) -> DkgResult:
    """Run a local ceremony with one OS process per party; see :class:`Ceremony`."""
    ceremony = Ceremony(config)
    ceremony.start()
    return ceremony.finish()
