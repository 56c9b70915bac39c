"""Who may talk to etcd, and what each may write (DESIGN.md section 4, "Ordering across machines").

etcd holds every chain's ordered log; a writer who could overwrite an entry after some peers
read it would split them from later readers (ledger.cluster.follower). So etcd admits only
mutual-TLS connections with certificates of a CA of its own - the deployment CA also certifies
clients and devices, whose certificates must not reach etcd - and runs with RBAC on:

- the etcd CA (CADIR/etcd/, beside the deployment CA, kept offline with it) issues each etcd
  member a certificate (CN MEMBER_CN, the DNS name SERVER_NAME and the member's addresses),
  each peer a client certificate with the peer's name as CN, and the operator one for `root`;
- members run with --client-cert-auth and --peer-client-cert-auth against that CA (and
  --peer-cert-allowed-cn MEMBER_CN: a peer's client certificate cannot join the Raft group),
  and --client-crl-file: `edgeacc ca revoke` revokes a name's etcd certificate too (etcd reads
  the file at every handshake);
- etcd takes a connection's certificate CN as its user; `grant_access` creates one user per
  peer, with one role per chain: read and write its own chain's prefix only; and read the
  shared certificate registry, writing only its own directory in it (below). No other user
  exists but root, whose credentials stay with the operator: nobody else writes anything.

The certificate registry (CERTS_PREFIX). A member that joins after the peers started hands
its ledger certificate to the chain's peers (Register; the client SDK hands it to every one);
each peer publishes it under its OWN directory, certificate_key(peer, fingerprint), so a peer
that restarts, or was not asked, finds it there. Every peer reads the whole registry and
writes only its own directory: a dishonest peer can neither delete nor overwrite another
peer's copy (etcd refuses it), and what it writes in its own (junk, another certificate) is
refused by the reader, which admits a copy only if it is the certificate of the fingerprint
asked and the CA signed it (node.admit_certificates). So a member is refused only if EVERY
peer it registered with withholds its certificate: no peer can deny service to the members
of the others. (One shared key per certificate, writable by all, let any peer delete it: the
certificate's holder was refused by every peer that had not seen it, until it re-registered.)

What remains: a dishonest peer may still rewrite its own chain's entries (RBAC cannot make a
key create-only; ledger.cluster.follower says what that costs).

    CADIR/etcd/ca.key, ca.crt, crl.pem     the etcd CA and its revocation list
    CADIR/etcd/root/                        the operator's root credentials (etcd.key/.crt)
    DIR/etcd.key, etcd.crt, etcd-ca.crt    an etcd client's credentials (in a peer's credentials)
    DIR/member.key, member.crt, etcd-ca.crt, crl.pem   an etcd member's
"""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import time
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledger import checks
from ledger.cluster.transport import Credentials
from ledger.encoding import check_chain_id
from ledger.errors import ConfigurationError, ServiceUnavailable, StorageError

MEMBER_CN = "edgeacc-etcd-member"
SERVER_NAME = "edgeacc-etcd"       # every member certificate's DNS name; clients check it
ROOT = "root"
PREFIX = b"/edgeacc/"
# Two disjoint namespaces: a chain id has no "/" (ledger.encoding.check_chain_id), so no chain's
# key range reaches into another's or into the shared certificates (a chain named "certs" once did).
CHAINS_PREFIX = PREFIX + b"chains/"
CERTS_PREFIX = PREFIX + b"certs/"
_YEARS = 20


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def _write_key(key, path: Path) -> None:
    from ledger.identity import save_private_key
    save_private_key(key, path)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc}") from None


class EtcdCredentials(Credentials):
    """An etcd client's TLS credentials (PEM): its key and certificate, and the etcd CA's
    (what issue_client wrote)."""

    FILES = ("etcd.key", "etcd.crt", "etcd-ca.crt")


# --- the etcd CA (the operator's, offline) ---------------------------------------------------


def init_ca(cadir: Path) -> None:
    """Create the etcd CA in CADIR/etcd (its key, certificate, an empty CRL) and the
    operator's root credentials."""
    directory = cadir / "etcd"
    directory.mkdir(parents=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgeacc etcd CA")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365 * _YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(key, directory / "ca.key")
    (directory / "ca.crt").write_bytes(_pem(cert))
    write_crl(cadir, {})
    _issue_client(cadir, ROOT, directory / "root")


def _ca(cadir: Path):
    from ledger.identity import load_certificate
    directory = cadir / "etcd"
    if not (directory / "ca.key").exists():
        raise ConfigurationError(f"{cadir} has no etcd CA (a CA made by `edgeacc ca init` has one)")
    key = serialization.load_pem_private_key(_read(directory / "ca.key"), None)
    return key, load_certificate(directory / "ca.crt")


def _issue(cadir: Path, common_name: str, usages, names=()) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = _ca(cadir)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=365 * _YEARS))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


# no client of etcd but the operator is root; none joins the Raft group; none passes for a
# member to the other clients (a client certificate has no DNS name: gRPC matches its CN)
RESERVED = (ROOT, MEMBER_CN, SERVER_NAME)


def check_client_name(name: str) -> str:
    """`name` if an etcd client certificate may carry it as CN (ConfigurationError for a
    reserved one: the CN is the etcd user, and the members admit MEMBER_CN as one of them)."""
    if checks.file_name(name, "name") in RESERVED:
        raise ConfigurationError(f"{name!r} is a reserved etcd name: choose another for the member")
    return name


def issue_client(cadir: Path, name: str, out: Path) -> int:
    """etcd client credentials for user `name` (its certificate's CN, not a RESERVED one)
    into directory `out` (created if missing; existing credentials are not overwritten);
    returns the serial."""
    return _issue_client(cadir, check_client_name(name), out)


def _issue_client(cadir: Path, name: str, out: Path) -> int:
    key, cert = _issue(cadir, name, [ExtendedKeyUsageOID.CLIENT_AUTH])
    out.mkdir(parents=True, exist_ok=True)
    _write_key(key, out / "etcd.key")
    (out / "etcd.crt").write_bytes(_pem(cert))
    (out / "etcd-ca.crt").write_bytes(_read(cadir / "etcd" / "ca.crt"))
    return cert.serial_number


def issue_member(cadir: str | Path, hosts: list[str], out: str | Path) -> Path:
    """An etcd member's credentials into the new directory `out`: serving clients and its
    peers at `hosts` (IP addresses or DNS names) and SERVER_NAME, and calling its peers."""
    cadir, out = checks.path(cadir, "cadir"), checks.path(out, "out")
    names = [x509.DNSName(SERVER_NAME)]
    for host in checks.instance(hosts, (list, tuple), "hosts"):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(checks.text(host, "host"))))
        except ValueError:
            names.append(x509.DNSName(host))
    key, cert = _issue(cadir, MEMBER_CN, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], names)
    out.mkdir(parents=True, exist_ok=True)
    _write_key(key, out / "member.key")
    (out / "member.crt").write_bytes(_pem(cert))
    (out / "etcd-ca.crt").write_bytes(_read(cadir / "etcd" / "ca.crt"))
    (out / "crl.pem").write_bytes(_read(cadir / "etcd" / "crl.pem"))  # a member elsewhere reads its copy
    return out


def write_crl(cadir: Path, revoked: dict[int, datetime.datetime]) -> Path:
    """CADIR/etcd/crl.pem naming the serials of `revoked` (serial -> when), replaced atomically
    (a member reading it mid-write must not see half a file); returns its path."""
    ca_key, ca_cert = _ca(cadir)
    now = _now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now)
               .next_update(now + datetime.timedelta(days=365 * _YEARS)))
    for serial, when in revoked.items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    path = cadir / "etcd" / "crl.pem"
    tmp = path.with_name("crl.pem.tmp")
    tmp.write_bytes(_pem(builder.sign(ca_key, hashes.SHA256())))
    tmp.replace(path)
    return path


# --- a member's flags --------------------------------------------------------------------


def member_flags(member_dir: Path, crl: Path) -> list[str]:
    """The etcd command-line flags of a member whose credentials are in `member_dir`
    (issue_member) and that reads the etcd CA's CRL at `crl` (URLs are https://)."""
    cert, key, ca = (str(member_dir / f) for f in ("member.crt", "member.key", "etcd-ca.crt"))
    return ["--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth",
            "--client-crl-file", str(crl),
            "--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca,
            "--peer-client-cert-auth", "--peer-cert-allowed-cn", MEMBER_CN, "--peer-crl-file", str(crl)]


# --- a client's channel ------------------------------------------------------------------


def checked_endpoints(endpoints) -> list[str]:
    """`endpoints` as a non-empty list of host:port texts (ConfigurationError otherwise)."""
    if not isinstance(endpoints, (list, tuple)) or not endpoints or not all(
            isinstance(e, str) and ":" in e for e in endpoints):
        raise ConfigurationError("etcd endpoints must be a non-empty list of host:port")
    return list(endpoints)


def client(endpoints: list[str], credentials: EtcdCredentials, timeout: float, options: dict):
    """An aetcd client over mutual TLS to the members `endpoints` (host:port), checking they
    present SERVER_NAME (aetcd itself dials only plaintext)."""
    import aetcd
    from aetcd import rpc, watcher

    endpoints = checked_endpoints(endpoints)
    checks.instance(credentials, EtcdCredentials, "credentials")

    class TLSClient(aetcd.Client):
        async def connect(self) -> None:
            if self._connected.is_set():
                return
            # a gRPC target naming every member: the channel moves on when one dies
            self.channel = grpc.aio.secure_channel(
                "ipv4:" + ",".join(endpoints), credentials.channel_credentials(),
                options=list({**options, "grpc.ssl_target_name_override": SERVER_NAME}.items()))
            self.kvstub, self.clusterstub = rpc.KVStub(self.channel), rpc.ClusterStub(self.channel)
            self.leasestub, self.maintenancestub = rpc.LeaseStub(self.channel), rpc.MaintenanceStub(self.channel)
            self.auth_stub = rpc.AuthStub(self.channel)
            self._watcher = watcher.Watcher(rpc.WatchStub(self.channel), timeout=self._timeout, metadata=None)
            self._connected.set()

    return TLSClient(timeout=int(max(1, timeout)), options=options)


def leads(endpoint: str, credentials: EtcdCredentials, timeout: float = 1.0) -> bool:
    """Whether the member at `endpoint` leads the cluster now (its Maintenance Status); False
    when it does not answer."""
    from aetcd import rpc

    channel = grpc.secure_channel(endpoint, credentials.channel_credentials(),
                                  options=[("grpc.ssl_target_name_override", SERVER_NAME)])
    try:
        status = rpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=timeout)
        return bool(status.leader) and status.leader == status.header.member_id
    except grpc.RpcError:
        return False
    finally:
        channel.close()


# --- access rules ------------------------------------------------------------------------


def _prefix_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


def chain_prefix(chain_id: str) -> bytes:
    """The keys of chain `chain_id`'s log (and its peers' RBAC range): under CHAINS_PREFIX."""
    return CHAINS_PREFIX + check_chain_id(chain_id).encode() + b"/"


def certificate_prefix(publisher: str) -> bytes:
    """Peer `publisher`'s directory of the certificate registry (the module docstring): a peer
    name has no "/" (authority.check_member_name), so no directory reaches into another."""
    return CERTS_PREFIX + checks.file_name(publisher, "publisher").encode() + b"/"


def certificate_key(publisher: str, fingerprint: bytes) -> bytes:
    """Where peer `publisher` publishes the certificate of `fingerprint`."""
    return certificate_prefix(publisher) + checks.instance(fingerprint, bytes, "fingerprint").hex().encode()


def _grants(deployment: dict) -> list[tuple[str, bytes, list[str]]]:
    """(role, the chain's prefix, its peers' names) of every chain of `deployment`; a peer
    name under two chains is a ConfigurationError (its one etcd user would hold both roles)."""
    try:
        grants = [(f"chain-{c['id']}", chain_prefix(c["id"]), [p["name"] for p in c["peers"]])
                  for c in deployment["chains"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"the deployment's chains are malformed: {exc!r}"[:300]) from None
    names = [name for _, _, peers in grants for name in peers]
    twice = sorted({checks.shown(n) for n in names if names.count(n) > 1})
    if twice:
        raise ConfigurationError(f"the deployment lists peer(s) {', '.join(twice)} more than once"[:300])
    return grants


def grant_access(endpoints: list[str], root: EtcdCredentials, deployment: dict, timeout: float = 10.0) -> None:
    """Set etcd's users and roles from `deployment` (deployment.json's dict) as the root user,
    then enable authentication: one role per chain (read and write its prefix, read the
    certificate registry), one user per peer with its chain's role and a role of its own
    (write its directory of the registry). Safe to run again (what exists stays; a peer
    added to deployment.json gets its user; a registry writable by every peer, as granted
    before, becomes read-only for them)."""
    from aetcd import rpc

    grants = _grants(deployment)

    async def run():
        etcd = client(endpoints, root, timeout, {})
        try:
            await etcd.connect()
            auth = etcd.auth_stub

            async def ensure(call, request):
                try:
                    await call(request, timeout=timeout)
                except grpc.aio.AioRpcError as exc:
                    if "already exists" not in (exc.details() or "") and "already granted" not in (exc.details() or ""):
                        raise
            # no passwords: etcd authenticates a user by its certificate's CN only
            await ensure(auth.UserAdd, rpc.AuthUserAddRequest(name=ROOT, options=rpc.UserAddOptions(no_password=True)))
            await ensure(auth.UserGrantRole, rpc.AuthUserGrantRoleRequest(user=ROOT, role=ROOT))
            async def grant(role, prefix, perm):
                # (a grant of the same range replaces its type: READWRITE granted before becomes READ)
                await ensure(auth.RoleAdd, rpc.AuthRoleAddRequest(name=role))
                await auth.RoleGrantPermission(rpc.AuthRoleGrantPermissionRequest(
                    name=role, perm=rpc.Permission(permType=perm, key=prefix, range_end=_prefix_end(prefix))),
                    timeout=timeout)
            for role, own, peers in grants:
                await grant(role, own, rpc.Permission.READWRITE)
                await grant(role, CERTS_PREFIX, rpc.Permission.READ)
                for peer in peers:
                    await ensure(auth.UserAdd, rpc.AuthUserAddRequest(
                        name=peer, options=rpc.UserAddOptions(no_password=True)))
                    await ensure(auth.UserGrantRole, rpc.AuthUserGrantRoleRequest(user=peer, role=role))
                    await grant(f"certs-{peer}", certificate_prefix(peer), rpc.Permission.READWRITE)
                    await ensure(auth.UserGrantRole, rpc.AuthUserGrantRoleRequest(user=peer, role=f"certs-{peer}"))
            await auth.AuthEnable(rpc.AuthEnableRequest(), timeout=timeout)
        finally:
            await etcd.close()
    deadline = time.monotonic() + timeout
    while True:  # (members just started may not answer yet)
        try:
            return asyncio.run(run())
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise ServiceUnavailable(f"etcd refused the access rules: {exc.code().name}: "
                                         f"{exc.details()}"[:400]) from None
            time.sleep(0.2)
