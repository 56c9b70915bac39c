"""A whole distributed deployment on one machine (`edgeacc cluster up/down DIR`): a 3-member
etcd cluster and every peer as its own `edgeacc node` process, all on free loopback ports.

    DIR/cluster.json          what `up` started: etcd members and nodes, their ports and pids
    DIR/ca/                   the operator's CA (ledger.cluster.authority); never read by a node
    DIR/deployment.json       the public deployment description every node and client reads
    DIR/nodes/NAME/           one peer: node.json, its credentials, its SQLite store, its log
    DIR/clients/client/       the default client's credentials and client.json (ledger.connect)
    DIR/etcd/mI/              etcd member I's data directory (mI.tls/ its credentials, mI.log)
    DIR/objects/              the shared content-addressed object store (file://)
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ledger import checks
from ledger.cluster import etcdauth
from ledger.errors import ConfigurationError, ServiceUnavailable, StorageError

ETCD = "etcd"
LOOPBACK = "127.0.0.1"


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


_handed_out: set[int] = set()  # ports free_port returned in this process (closed again at once: still free)


def free_port() -> int:
    """A TCP port free on loopback now, below the kernel's ephemeral range: a node keeps its
    port across restarts, and a port from that range (bind to 0) could meanwhile be taken as
    the source port of any outgoing connection on the machine. Never one it returned before
    (a random pick would otherwise repeat within one deployment: two services, one port)."""
    low = _ephemeral_low()
    if low <= 2048:
        return _any_free_port()
    for _ in range(200):
        port = secrets.randbelow(low - 1024) + 1024
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    return _any_free_port()


def _any_free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _kill(pid: int, sig: int = signal.SIGTERM) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_processes(processes: list, grace: float) -> None:
    """SIGTERM every running process of `processes` (None entries skipped), SIGKILL those still
    running `grace` seconds later, and reap them all."""
    running = [p for p in processes if p is not None]
    for p in running:
        if p.poll() is None:
            p.terminate()
    for p in running:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class EtcdCluster:
    """`members` etcd processes on loopback, data under `directory`, over mutual TLS with
    certificates of the etcd CA in `cadir` (ledger.cluster.etcdauth; the members' own are
    issued on first start); start(), kill(i), restart(i), stop()."""

    def __init__(self, directory: str | Path, cadir: str | Path, members: int = 3) -> None:
        self.directory = checks.path(directory, "directory")
        self.cadir = checks.path(cadir, "cadir")
        if shutil.which(ETCD) is None:
            raise ConfigurationError("etcd is not installed (Debian: apt-get install etcd-server)")
        self.names = [f"m{i}" for i in range(checks.integer(members, "members", lo=1, hi=9))]
        self.client_ports = [free_port() for _ in self.names]
        self.peer_ports = [free_port() for _ in self.names]
        self.processes: list[subprocess.Popen | None] = [None] * len(self.names)

    @property
    def endpoints(self) -> list[str]:
        return [f"{LOOPBACK}:{p}" for p in self.client_ports]

    @property
    def root(self) -> etcdauth.EtcdCredentials:
        """The operator's etcd credentials (user root)."""
        return etcdauth.EtcdCredentials.load(self.cadir / "etcd" / etcdauth.ROOT)

    def _command(self, i: int, state: str) -> list[str]:
        cluster = ",".join(f"{n}=https://{LOOPBACK}:{p}" for n, p in zip(self.names, self.peer_ports))
        return [ETCD, "--name", self.names[i], "--data-dir", str(self.directory / self.names[i]),
                "--listen-client-urls", f"https://{LOOPBACK}:{self.client_ports[i]}",
                "--advertise-client-urls", f"https://{LOOPBACK}:{self.client_ports[i]}",
                "--listen-peer-urls", f"https://{LOOPBACK}:{self.peer_ports[i]}",
                "--initial-advertise-peer-urls", f"https://{LOOPBACK}:{self.peer_ports[i]}",
                "--initial-cluster", cluster, "--initial-cluster-state", state,
                "--initial-cluster-token", "edgeacc", "--heartbeat-interval", "100",
                "--election-timeout", "1000", "--log-level", "warn",
                *etcdauth.member_flags(self._member_credentials(i), self.cadir / "etcd" / "crl.pem")]

    def _member_credentials(self, i: int) -> Path:
        return self.directory / f"{self.names[i]}.tls"

    def start(self, i: int | None = None) -> "EtcdCluster":
        """Start every member (or member i) and wait until the cluster answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for j in range(len(self.names)) if i is None else [i]:
            if not self._member_credentials(j).exists():
                etcdauth.issue_member(self.cadir, [LOOPBACK], self._member_credentials(j))
            log = open(self.directory / f"{self.names[j]}.log", "ab")
            self.processes[j] = subprocess.Popen(self._command(j, "new"), stdout=log, stderr=log,
                                                 start_new_session=True)
            log.close()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.leader() is not None:
                return
            time.sleep(0.2)
        raise ServiceUnavailable(f"etcd in {self.directory} has no leader after {timeout} s")

    def leader(self) -> int | None:
        """Index of the member that leads now (None without a quorum)."""
        root = self.root
        for i, (endpoint, process) in enumerate(zip(self.endpoints, self.processes)):
            if process is not None and process.poll() is None and etcdauth.leads(endpoint, root):
                return i
        return None

    def kill(self, i: int) -> None:
        """kill -9 member i."""
        p = self.processes[i]
        if p is not None:
            p.kill()
            p.wait()
            self.processes[i] = None

    def stop(self) -> None:
        stop_processes(self.processes, grace=5)
        self.processes = [None] * len(self.names)


MAIN_CHAIN_ID = "main"
CLIENT = "client"


@dataclass
class ClusterInfo:
    directory: Path
    etcd_endpoints: list[str]
    client_config: Path


def _peer_names(chain_id: str, peers: int) -> list[str]:
    return [f"{chain_id}.peer{i}" for i in range(peers)]


def create(directory: str | Path, *, subchains: int = 2, peers_per_chain: int = 2, endorsement_threshold: int = 2,
           max_block_txs: int = 2000, params_hex: str | None = None, validators: list[str] = ()) -> Path:
    """Lay out a new deployment in the empty or missing `directory` (no process started): the
    CA, every peer's credentials and node.json, the client's, deployment.json. Every chain's
    peers run the application `validators` (names of ledger.cluster.validators.VALIDATORS)."""
    from ledger.cluster import authority

    directory = checks.path(directory, "directory")
    subchains = checks.integer(subchains, "subchains", lo=1, hi=64)
    peers_per_chain = checks.integer(peers_per_chain, "peers_per_chain", lo=1, hi=16)
    endorsement_threshold = checks.integer(endorsement_threshold, "endorsement_threshold", lo=1, hi=peers_per_chain)
    validators = [checks.text(v, "validators") for v in checks.instance(validators, (list, tuple), "validators")]
    if directory.exists() and any(directory.iterdir()):
        raise ConfigurationError(f"{directory} is not empty")
    authority.init(directory / "ca")
    chain_ids = [MAIN_CHAIN_ID] + [f"edge-{i}" for i in range(subchains)]
    chains = []
    for cid in chain_ids:
        peers = [{"name": n, "address": f"{LOOPBACK}:{free_port()}"} for n in _peer_names(cid, peers_per_chain)]
        chains.append({"id": cid, "kind": "main" if cid == MAIN_CHAIN_ID else "sub",
                       "threshold": endorsement_threshold, "peers": peers, "validators": validators})
    for c in chains:
        for p in c["peers"]:
            node_dir = directory / "nodes" / p["name"]
            authority.issue(directory / "ca", p["name"], "peer", node_dir / "credentials", c["id"])
    authority.issue(directory / "ca", CLIENT, "client", directory / "clients" / CLIENT)
    (directory / "objects").mkdir()
    etcd = [f"{LOOPBACK}:{free_port()}" for _ in range(3)]
    deployment = {"format": "edgeacc-cluster/1", "params": {"modulus_hex": params_hex, "insecure": True}
                  if params_hex else {"modulus": "rsa2048"}, "etcd": etcd,
                  "etcd_peer_ports": [free_port() for _ in etcd], "chains": chains,
                  "max_block_txs": max_block_txs, "cutter_ttl": 2,
                  "objects": (directory / "objects").resolve().as_uri()}
    (directory / "deployment.json").write_text(json.dumps(deployment, indent=2))
    for c in chains:
        for p in c["peers"]:
            node_dir = directory / "nodes" / p["name"]
            (node_dir / "node.json").write_text(json.dumps({
                "name": p["name"], "credentials": "credentials", "trust": "../../trust",
                "store": "store.sqlite", "listen": p["address"], "deployment": "../../deployment.json"}, indent=2))
    (directory / "clients" / CLIENT / "client.json").write_text(json.dumps({
        "name": CLIENT, "credentials": ".", "trust": "../../trust", "deployment": "../../deployment.json"}, indent=2))
    publish_trust(directory)
    return directory


def publish_trust(directory: Path) -> None:
    """Copy the CA's public material (ca.crt, crl.pem, certs/) to DIR/trust, where the nodes
    read it (on many machines: distribute these files instead)."""
    trust = directory / "trust"
    certs = directory / "ca" / "certs"
    for cert in list(certs.glob("*.crt")) + list(certs.glob("previous/*/*.crt")):  # (and what renewals replaced)
        (trust / cert.relative_to(directory / "ca").parent).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cert, trust / cert.relative_to(directory / "ca"))
    shutil.copyfile(directory / "ca" / "ca.crt", trust / "ca.crt")
    tmp = trust / "crl.pem.tmp"
    shutil.copyfile(directory / "ca" / "crl.pem", tmp)
    tmp.replace(trust / "crl.pem")


class LocalCluster:
    """A created deployment's processes: its etcd members and `edgeacc node` per peer."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = checks.path(directory, "directory")
        try:
            self.deployment = json.loads((self.directory / "deployment.json").read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(f"{self.directory} holds no deployment: {exc}") from None
        self.etcd = EtcdCluster(self.directory / "etcd", self.directory / "ca", len(self.deployment["etcd"]))
        self.etcd.client_ports = [int(e.rpartition(":")[2]) for e in self.deployment["etcd"]]
        self.etcd.peer_ports = list(self.deployment["etcd_peer_ports"])
        self.nodes: dict[str, subprocess.Popen | None] = {
            p["name"]: None for c in self.deployment["chains"] for p in c["peers"]}

    @property
    def client_config(self) -> Path:
        return self.directory / "clients" / CLIENT / "client.json"

    def chain_of(self, name: str) -> str:
        return next(c["id"] for c in self.deployment["chains"] if any(p["name"] == name for p in c["peers"]))

    def start_node(self, name: str, repair: bool = False) -> None:
        """Start peer `name`'s node process (`repair`: `edgeacc node --repair`)."""
        node_dir = self.directory / "nodes" / name
        log = open(node_dir / "node.log", "ab")
        self.nodes[name] = subprocess.Popen([sys.executable, "-m", "ledger.cli", "node", str(node_dir / "node.json")]
                                            + ["--repair"] * repair,
                                            stdout=log, stderr=log, start_new_session=True,
                                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                                filter(None, [str(Path(__file__).resolve().parents[2]),
                                                              os.environ.get("PYTHONPATH")]))})
        log.close()

    def kill_node(self, name: str) -> None:
        """kill -9 one node."""
        p = self.nodes.get(name)
        if p is not None:
            p.kill()
            p.wait()
            self.nodes[name] = None

    def etcd_log(self, chain_id: str, name: str | None = None):
        """An EtcdLog of `chain_id` with the etcd credentials of peer `name` (None: the
        operator's root)."""
        from ledger.cluster.ordering import EtcdLog

        credentials = self.etcd.root if name is None else etcdauth.EtcdCredentials.load(
            self.directory / "nodes" / checks.file_name(name, "name") / "credentials")
        return EtcdLog(self.deployment["etcd"], chain_id, credentials)

    def start_etcd(self) -> None:
        """Start etcd and (again: it is idempotent) set its users and roles from deployment.json."""
        self.etcd.start()
        try:
            etcdauth.grant_access(self.etcd.endpoints, self.etcd.root, self.deployment)
        except BaseException:
            self.etcd.stop()
            raise

    def up(self, timeout: float = 60.0) -> "LocalCluster":
        self.start_etcd()
        try:
            for name in self.nodes:
                self.start_node(name)
            self.wait_ready(timeout)
        except BaseException:
            self.down()
            raise
        self._record()
        return self

    def wait_ready(self, timeout: float = 60.0, names: list[str] | None = None) -> None:
        """Until every node (of `names`) answers and each chain has a block cutter."""
        from ledger.cluster.client import connect

        deadline = time.monotonic() + timeout
        with connect(self.client_config) as client:
            while True:
                try:
                    statuses = [client.node_status(n) for n in (names or list(self.nodes))]
                    cutters = {s["chain"] for s in statuses if s["cutter"]}
                    if names or cutters == {c["id"] for c in self.deployment["chains"]}:
                        return
                except ServiceUnavailable:
                    pass
                for name, p in self.nodes.items():
                    if p is not None and p.poll() is not None:
                        raise ServiceUnavailable(f"node {name} exited with {p.returncode}: see "
                                                 f"{self.directory / 'nodes' / name / 'node.log'}")
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(f"the cluster in {self.directory} is not ready after {timeout} s")
                time.sleep(0.2)

    def _record(self) -> None:
        pids = {"etcd": [p.pid for p in self.etcd.processes if p is not None],
                "nodes": {n: p.pid for n, p in self.nodes.items() if p is not None}}
        (self.directory / "cluster.json").write_text(json.dumps(pids, indent=2))

    def down(self) -> None:
        stop_processes(list(self.nodes.values()), grace=10)  # nodes first: they resign and close stores
        self.nodes = dict.fromkeys(self.nodes)
        self.etcd.stop()
        (self.directory / "cluster.json").unlink(missing_ok=True)


def up(directory: str | Path, **create_options) -> ClusterInfo:
    """`edgeacc cluster up DIR`: create the deployment when DIR is empty, start etcd and every
    node, and return once each chain has a block cutter. The processes keep running after
    this returns; `down` stops them."""
    directory = checks.path(directory, "directory")
    if not (directory / "deployment.json").exists():
        create(directory, **create_options)
    if (directory / "cluster.json").exists():
        raise ConfigurationError(f"{directory} is already up (edgeacc cluster down {directory})")
    cluster = LocalCluster(directory).up()
    for p in cluster.etcd.processes + list(cluster.nodes.values()):
        if p is not None:
            p.returncode = 0  # detach: Popen.__del__ must not wait for them
    return ClusterInfo(directory, cluster.etcd.endpoints, cluster.client_config)


def down(directory: str | Path, timeout: float = 10.0) -> None:
    """`edgeacc cluster down DIR`: stop what `up` started (SIGTERM, then SIGKILL)."""
    directory = checks.path(directory, "directory")
    try:
        pids = json.loads((directory / "cluster.json").read_text())
    except (OSError, ValueError):
        raise ConfigurationError(f"{directory} is not up (no cluster.json)") from None
    groups = [list(pids["nodes"].values()), pids["etcd"]]
    for group in groups:  # nodes first: they resign and close their stores
        for pid in group:
            _kill(pid)
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in group) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in group:
            _kill(pid, signal.SIGKILL)
    (directory / "cluster.json").unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
