"""The operator's certificate authority, kept offline in a directory of its own: the CA key
never goes to a peer. Peers receive their own keys and the public trust material only.

    CADIR/ca.key, ca.crt     the CA (the key readable by its owner only)
    CADIR/crl.pem            the current revocation list (public: distribute it to every node)
    CADIR/certs/NAME.crt     every member's newest ledger certificate (public: the nodes' trust
                             bundle), CADIR/certs/previous/NAME/SERIAL.crt the ones `renew` replaced
    CADIR/issued.json        name -> the serial numbers of its certificates (for revoke)
    CADIR/etcd/              the etcd CA: who may reach etcd (ledger.cluster.etcdauth)

`issue` writes a member's credentials into a directory of its own: identity.key/.crt (its
Ed25519 ledger identity), tls.key/.crt (its transport certificate, same subject), copies of
ca.crt and crl.pem, and for a peer etcd.key/.crt and etcd-ca.crt (its etcd client certificate,
the peer's name as CN: only peers reach etcd).
"""
from __future__ import annotations

import datetime
import fcntl
import json
import math
import shutil
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledger import checks
from ledger.cluster import etcdauth
from ledger.errors import ArgumentError, ConfigurationError, NotFound, StorageError
from ledger.identity import (DEFAULT_CA_DAYS, DEFAULT_MEMBER_DAYS, CertificateAuthority, Identity, TrustStore,
                             load_certificate, load_private_key, load_revocation_list, save_certificate,
                             save_private_key)
from ledger.objects import write_local

ISSUED = "issued.json"
PREVIOUS = "previous"  # CADIR/certs/previous/NAME/: the certificates renew replaced


def _pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def init(cadir: str | Path, name: str = "edgeacc deployment CA", lifetime_days: int = DEFAULT_CA_DAYS) -> Path:
    """Create a CA (its certificate valid for `lifetime_days`) in the empty or missing
    directory `cadir`."""
    cadir = checks.path(cadir, "cadir")
    if cadir.exists() and any(cadir.iterdir()):
        raise ConfigurationError(f"{cadir} is not empty")
    (cadir / "certs").mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create(name, lifetime_days)
    save_private_key(ca.key, cadir / "ca.key")
    save_certificate(ca.certificate, cadir / "ca.crt")
    (cadir / "crl.pem").write_bytes(_pem(ca.revocation_list({})))
    (cadir / ISSUED).write_text("{}")
    etcdauth.init_ca(cadir)
    return cadir


def _load(cadir: Path) -> CertificateAuthority:
    return CertificateAuthority(load_private_key(cadir / "ca.key"), load_certificate(cadir / "ca.crt"))


@contextmanager
def _locked(cadir: Path):
    """The CA directory's records, read and replaced under an exclusive lock (no concurrent
    issue or revocation is lost)."""
    with open(cadir / "ca.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            issued = json.loads((cadir / ISSUED).read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(f"{cadir} is not a CA directory: {exc}") from None
        yield issued
        tmp = cadir / (ISSUED + ".tmp")
        tmp.unlink(missing_ok=True)  # (a crash's leftover: the lock is ours)
        write_local(str(tmp), str(cadir / ISSUED), json.dumps(issued, indent=1).encode())


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def check_member_name(name: str) -> str:
    """`name` if the CA may issue it: 1..64 of [a-z0-9-_.], no leading, trailing or double dot
    (ArgumentError otherwise). The name is its transport certificate's DNS name, and gRPC's
    TLS hostname check matches that ignoring case, a trailing dot and a leading "*." wildcard:
    a client named "EDGE-0.PEER0", "edge-0.peer0." or "*.peer0" passed as the server
    edge-0.peer0. In this form a name matches only itself, so distinct names never pass for
    each other."""
    checks.file_name(name, "name")
    if not set(name) <= _NAME_CHARS or name.endswith(".") or ".." in name:
        raise ArgumentError(f"name {checks.shown(name)} must be 1..64 of [a-z0-9-_.] without a leading, "
                            "trailing or double dot (it is a TLS host name)")
    return name


def issue(cadir: str | Path, name: str, role: str, out: str | Path, chain_id: str | None = None,
          lifetime_days: int = DEFAULT_MEMBER_DAYS) -> Path:
    """Issue `name` (role peer, client or device; peers and bound devices name `chain_id`) its
    ledger identity and transport certificate, valid for `lifetime_days` (ledger.identity),
    into the new directory `out`."""
    cadir, out = checks.path(cadir, "cadir"), checks.path(out, "out")
    ca = _load(cadir)
    check_member_name(name)
    if role == "peer":  # (its etcd user is its name: checked before anything is written)
        etcdauth.check_client_name(name)
    with _locked(cadir) as issued:
        if name in issued:
            raise ConfigurationError(f"{name} already has certificates (renew them, or revoke them and "
                                     "choose another name)")
        issued[name] = _issue_into(cadir, ca, name, role, chain_id, out, lifetime_days)
    return out


def renew(cadir: str | Path, name: str, out: str | Path, lifetime_days: int = DEFAULT_MEMBER_DAYS) -> Path:
    """New certificates for `name`, of the role and chain its last ones carry, valid for
    `lifetime_days`, into the new directory `out`: a member's certificates expire
    (DEFAULT_MEMBER_DAYS), so renew before they do. Its ledger key stays its own: the new
    identity.crt certifies the key of its last one and `out` holds no identity.key (copy
    `out`'s files over the member's credentials directory, whose identity.key stays, and
    restart it: a peer's signed checkpoints stay its own); its transport and etcd
    certificates get fresh keys. The earlier certificates stay valid until they end, so what
    they signed still counts at its blocks' dates; `revoke` revokes every certificate the name
    was issued. A name with a revoked certificate is never renewed (ConfigurationError;
    NotFound for a name never issued)."""
    cadir, out = checks.path(cadir, "cadir"), checks.path(out, "out")
    ca = _load(cadir)
    checks.text(name, "name")
    with _locked(cadir) as issued:
        if name not in issued:
            raise NotFound(f"the CA issued nothing to {checks.shown(name)}")
        revoked = {r.serial_number for r in load_revocation_list(cadir / "crl.pem")}
        if revoked & set(issued[name]):
            raise ConfigurationError(f"{name} was revoked: it is never renewed (issue another name)")
        current = cadir / "certs" / f"{name}.crt"
        last = TrustStore(ca.certificate).add_certificate(load_certificate(current))
        previous = cadir / "certs" / PREVIOUS / name  # (a name has no "/": check_member_name)
        previous.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(current, previous / f"{last.certificate.serial_number:x}.crt")
        issued[name] += _issue_into(cadir, ca, name, last.role, last.chain_id, out, lifetime_days,
                                    ca.recertify(last, lifetime_days))
    return out


def _issue_into(cadir: Path, ca: CertificateAuthority, name: str, role: str, chain_id: str | None, out: Path,
                lifetime_days: int, ledger_cert: x509.Certificate | None = None) -> list[int]:
    """Keys and certificates of `name` into `out` (the module docstring; with `ledger_cert`,
    that certificate of the member's own key instead of a new key: renew) and its ledger
    certificate into CADIR/certs; returns their serials."""
    out.mkdir(parents=True, exist_ok=True)
    if ledger_cert is None:
        identity = ca.issue(name, role, chain_id, lifetime_days)
        save_private_key(identity.key, out / "identity.key")
        ledger_cert = identity.certificate
    tls_key, tls_cert = ca.issue_transport(name, role, chain_id, lifetime_days)
    save_certificate(ledger_cert, out / "identity.crt")
    save_private_key(tls_key, out / "tls.key")
    save_certificate(tls_cert, out / "tls.crt")
    for public in ("ca.crt", "crl.pem"):
        shutil.copyfile(cadir / public, out / public)
    save_certificate(ledger_cert, cadir / "certs" / f"{name}.crt")
    serials = [ledger_cert.serial_number, tls_cert.serial_number]
    if role == "peer":
        serials.append(etcdauth.issue_client(cadir, name, out))
    return serials


def revoke(cadir: str | Path, name: str, effective_in: float = 1.0) -> Path:
    """Put every certificate of `name` on the CA's revocation list, and its etcd certificate
    on the etcd CA's; returns the path of the new crl.pem to distribute (and CADIR/etcd/crl.pem
    goes to every etcd member's --client-crl-file).

    The revocation is dated `effective_in` seconds from now (at least 1, whole seconds): calls
    from `name` are refused as soon as a node holds the CRL. The first peer of each chain that
    holds the CRL appends it to the chain's log (ledger.cluster.ordered_crl): the key counts on
    no block written after that entry, whatever the block's date or the revocation's, and on
    every block written before it, and the log brings the CRL to the chain's other peers
    (followers decide by the log's order alone: ledger.cluster.follower). The date matters
    where a node judges live and to the embedded deployment, which checks a block at its own
    date. Revoking `name` again moves the date earlier, never later (a revocation dated too far
    ahead can be corrected)."""
    cadir = checks.path(cadir, "cadir")
    ca = _load(cadir)
    checks.text(name, "name")
    delay = math.ceil(checks.number(effective_in, "effective_in", lo=0, hi=365 * 86400))
    with _locked(cadir) as issued:
        if name not in issued:
            raise NotFound(f"the CA issued nothing to {checks.shown(name)}")
        revoked = {r.serial_number: r.revocation_date_utc for r in load_revocation_list(cadir / "crl.pem")}
        # whole seconds, rounded up: blocks signed just before stay valid on reopen
        when = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                + datetime.timedelta(seconds=max(1, delay)))
        for serial in issued[name]:  # revoked again sooner: the earlier date holds (a later one would undo)
            revoked[serial] = min(revoked.get(serial, when), when)
        tmp = cadir / "crl.pem.tmp"
        tmp.write_bytes(_pem(ca.revocation_list(revoked)))
        tmp.replace(cadir / "crl.pem")
        etcdauth.write_crl(cadir, revoked)  # (serials are random: the other CA's never collide)
    return cadir / "crl.pem"


def load_identity(directory: str | Path) -> Identity:
    """The ledger identity `issue` wrote into `directory` (its key and certificate)."""
    directory = checks.path(directory, "directory")
    return Identity(load_private_key(directory / "identity.key"), load_certificate(directory / "identity.crt"))
