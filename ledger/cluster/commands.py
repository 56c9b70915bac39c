"""The distributed deployment's console commands (`edgeacc ca|node|cluster ...`).

    edgeacc ca init CADIR [--days N]
    edgeacc ca issue CADIR NAME --role peer|client|device [--chain ID] --out DIR [--days N]
    edgeacc ca renew CADIR NAME --out DIR [--days N]   (the member keeps its identity.key)
    edgeacc ca revoke CADIR NAME [--effective-in SECONDS]
    edgeacc ca etcd-member CADIR --host HOST [--host ...] --out DIR
    edgeacc ca etcd-grant CADIR DEPLOYMENT
    edgeacc node CONFIG
    edgeacc cluster up DIR [--subchains N] [--peers P] [--threshold K]
    edgeacc cluster down DIR
"""
from __future__ import annotations

import json
import logging

from ledger.identity import DEFAULT_CA_DAYS, DEFAULT_MEMBER_DAYS

log = logging.getLogger("edgeacc.cli")


def cmd_ca(args) -> int:
    from ledger.cluster import authority

    if args.ca_command == "init":
        authority.init(args.cadir, lifetime_days=args.days)
        log.info("created the CA in %s (keep it offline: no peer needs ca.key)", args.cadir)
    elif args.ca_command == "issue":
        out = authority.issue(args.cadir, args.name, args.role, args.out, args.chain, lifetime_days=args.days)
        log.info("issued %s (%s%s) into %s", args.name, args.role, f" of {args.chain}" if args.chain else "", out)
    elif args.ca_command == "renew":
        out = authority.renew(args.cadir, args.name, args.out, lifetime_days=args.days)
        log.info("renewed %s into %s: copy its files over the member's credentials (identity.key stays) and restart it",
                 args.name, out)
    elif args.ca_command == "etcd-member":
        from ledger.cluster import etcdauth
        out = etcdauth.issue_member(args.cadir, args.host, args.out)
        log.info("issued an etcd member certificate for %s into %s; run etcd with https:// URLs and:", args.host, out)
        print(" ".join(etcdauth.member_flags(out, out / "crl.pem")))
    elif args.ca_command == "etcd-grant":
        from ledger.cluster import etcdauth
        from ledger.cluster.node import read_json
        from pathlib import Path
        deployment = read_json(args.deployment, "deployment description")
        etcdauth.grant_access(deployment.get("etcd"), etcdauth.EtcdCredentials.load(Path(args.cadir) / "etcd" / "root"),
                              deployment)
        log.info("etcd: every peer of %s may write its chain's keys only; authentication is on", args.deployment)
    else:
        crl = authority.revoke(args.cadir, args.name, args.effective_in)
        log.info("revoked %s: distribute %s to every node and %s to every etcd member", args.name, crl,
                 crl.parent / "etcd" / "crl.pem")
    return 0


def cmd_node(args) -> int:
    from ledger.cluster.node import run_node

    run_node(args.config, repair=args.repair)
    return 0


def cmd_cluster(args) -> int:
    from ledger.cluster import local

    if args.cluster_command == "up":
        info = local.up(args.dir, subchains=args.subchains, peers_per_chain=args.peers,
                        endorsement_threshold=args.threshold)
        print(json.dumps({"client": str(info.client_config), "etcd": info.etcd_endpoints}, indent=2))
    else:
        local.down(args.dir)
    return 0


def add_parsers(sub) -> None:
    """Register the ca, node and cluster commands on the CLI's subparsers."""
    p = sub.add_parser("ca", help="the operator's offline certificate authority")
    ca = p.add_subparsers(dest="ca_command", required=True)
    q = ca.add_parser("init", help="create a CA in an empty directory")
    q.add_argument("cadir")
    q.add_argument("--days", type=int, default=DEFAULT_CA_DAYS,
                   help=f"the CA certificate's lifetime (default {DEFAULT_CA_DAYS}); nothing it issues outlives it")
    q = ca.add_parser("issue", help="issue a peer, client or device its identity and TLS certificate")
    q.add_argument("cadir")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("peer", "client", "device"))
    q.add_argument("--chain", help="the chain a peer serves (or a device reports to)")
    q.add_argument("--out", required=True, help="a new directory for the member's credentials")
    q.add_argument("--days", type=int, default=DEFAULT_MEMBER_DAYS,
                   help=f"the certificates' lifetime (default {DEFAULT_MEMBER_DAYS}); a signature counts only "
                        "in blocks dated within it")
    q = ca.add_parser("renew", help="certify NAME's ledger key again (role, chain) with fresh TLS and etcd keys, "
                                    "before they expire")
    q.add_argument("cadir")
    q.add_argument("name")
    q.add_argument("--out", required=True, help="a new directory for the member's credentials")
    q.add_argument("--days", type=int, default=DEFAULT_MEMBER_DAYS,
                   help=f"the new certificates' lifetime (default {DEFAULT_MEMBER_DAYS})")
    q = ca.add_parser("revoke", help="revoke every certificate of NAME (writes a new crl.pem)")
    q.add_argument("cadir")
    q.add_argument("name")
    q.add_argument("--effective-in", type=float, default=1.0, metavar="SECONDS",
                   help="date the revocation this far ahead (the embedded deployment judges blocks at their "
                        "date; a cluster's nodes by the CRL's entry in the log)")
    q = ca.add_parser("etcd-member", help="issue an etcd member its TLS certificate (the etcd CA's)")
    q.add_argument("cadir")
    q.add_argument("--host", action="append", required=True, help="an address the member serves at (repeat)")
    q.add_argument("--out", required=True, help="a new directory for the member's credentials")
    q = ca.add_parser("etcd-grant", help="set etcd's users and roles from deployment.json and enable auth")
    q.add_argument("cadir")
    q.add_argument("deployment")
    p.set_defaults(func=cmd_ca)

    p = sub.add_parser("node", help="run one peer as a service (its config: one JSON file)")
    p.add_argument("config")
    p.add_argument("--repair", action="store_true",
                   help="start a node whose store was cut back below its checkpoint: catch it up from etcd's "
                        "log and the chain's peers (checked against the quorum-attested digest)")
    p.set_defaults(func=cmd_node)

    p = sub.add_parser("cluster", help="a whole deployment on this machine: 3-member etcd and every peer")
    cl = p.add_subparsers(dest="cluster_command", required=True)
    q = cl.add_parser("up", help="create (if empty) and start the deployment in DIR")
    q.add_argument("dir")
    q.add_argument("--subchains", type=int, default=2)
    q.add_argument("--peers", type=int, default=2, help="peers per chain")
    q.add_argument("--threshold", type=int, default=2, help="endorsements a block needs (k-of-any)")
    q = cl.add_parser("down", help="stop every process `cluster up DIR` started")
    q.add_argument("dir")
    p.set_defaults(func=cmd_cluster)
