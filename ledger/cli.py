"""The `edgeacc` console script: the engine self-test and the embedded ledger's commands.

    edgeacc --version
    edgeacc selftest [--items N]
    edgeacc init DIR [--subchains N] [--peers P] [--threshold K] [--interlock-blocks K] [--interlock-seconds T]
    edgeacc submit DIR --chain edge-0 (--data TEXT | --file PATH [--object] | --lines PATH) [--signer NAME]
    edgeacc interlock DIR
    edgeacc status DIR
    edgeacc verify DIR TXID --from CHAIN
    edgeacc inspect DIR CHAIN [HEIGHT]
    edgeacc revoke DIR NAME
    edgeacc demo [--rounds R] [--trainer numpy-mlp|torch-mlp] [--audit-fraction F] [--plot PATH]

Exit status: 0 on success (verify: the transaction is valid), 1 when verify rejects, 2 on an
error (bad arguments, bad input, a damaged data directory).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

import edgeacc
from ledger.errors import LedgerError


def _open(args, **kw):
    from ledger.network import Network

    return Network.open(args.dir, progress=sys.stderr.isatty(), auto_interlock=False, **kw)


def cmd_selftest(args) -> int:
    from edgeacc.__main__ import main as engine_demo

    return engine_demo(["--items", str(args.items)])


def cmd_init(args) -> int:
    from ledger.network import Network

    with Network.init(args.dir, subchains=args.subchains, peers_per_chain=args.peers,
                      endorsement_threshold=args.threshold, interlock_blocks=args.interlock_blocks,
                      interlock_seconds=args.interlock_seconds, auto_interlock=False) as net:
        chains = ", ".join(net.services)
    print(f"created {args.dir}: chains {chains}; {args.peers} peers each; "
          f"{args.threshold}-of-any endorsement; client identity 'client'")
    return 0


def cmd_submit(args) -> int:
    with _open(args) as net:
        signer = net.identity(args.signer, role=args.role)
        if args.lines:
            records = Path(args.lines).read_bytes().splitlines()
            txs = [net.record(args.chain, r, signer=signer) for r in tqdm(records, desc="signing", unit="tx", disable=None)]
            pending = net.submit_transactions(txs)
            receipts = [p.result() for p in tqdm(pending, desc="committing", unit="tx", disable=None)]
        else:
            if args.file:
                data = Path(args.file).read_bytes()
                obj = net.put_object(data) if args.object else None
                payload = b"" if args.object else data
            else:
                obj, payload = None, args.data.encode()
            receipts = [net.submit(args.chain, payload, obj=obj, signer=signer).result()]
        for r in receipts:
            print(f"{r.tx_id.hex()} {r.chain_id} height {r.height} position {r.position}")
        if args.interlock:
            net.interlock()
    return 0


def cmd_interlock(args) -> int:
    with _open(args) as net:
        report = net.interlock()
    for r in report.type2:
        print(f"Type-II  -> {r.chain_id} height {r.height}  {r.tx_id.hex()}")
    for r in report.type3:
        print(f"Type-III -> {r.chain_id} height {r.height}  {r.tx_id.hex()}")
    if not report.type2 and not report.type3:
        print("nothing new to interlock")
    return 0


def cmd_status(args) -> int:
    with _open(args) as net:
        print(json.dumps(net.status(), indent=2))
    return 0


def cmd_verify(args) -> int:
    with _open(args) as net:
        verdict = net.verifier(args.from_chain).verify(args.txid)
    state = "VALID" if verdict.ok else f"REJECTED ({verdict.code})"
    print(f"{state}: {verdict.reason}")
    return 0 if verdict.ok else 1


def cmd_inspect(args) -> int:
    with _open(args) as net:
        peer = net.peer(args.chain)
        height = peer.height - 1 if args.height is None else args.height
        block = peer.block(height)
        h = block.header
        names = {m.fingerprint: m.name for m in net.trust.members()}
        print(json.dumps({
            "chain": h.chain_id, "height": h.height, "digest": h.digest.hex(), "previous": h.previous.hex(),
            "timestamp_ms": h.timestamp_ms, "merkle_root": h.merkle_root.hex(),
            "accumulator": {"element": hex(h.acc_element), "nonce": h.acc_nonce, "value": h.acc_value.hex()[:32] + "..."},
            "endorsements": [names.get(fp, fp.hex()) for fp, _ in block.signed.endorsements],
            "transactions": [{"id": tx.tx_id.hex(), "kind": tx.kind.name, "submitter": names.get(tx.submitter, tx.submitter.hex()),
                              "payload_bytes": len(tx.payload), "object": tx.object_url or None}
                             for tx in block.transactions],
        }, indent=2))
    return 0


def cmd_revoke(args) -> int:
    with _open(args) as net:
        net.revoke(args.name)
    print(f"revoked {args.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand (add new commands here)."""
    ap = argparse.ArgumentParser(prog="edgeacc", description="RSA-accumulator engine and two-layer edge ledger")
    ap.add_argument("--version", action="version", version=f"edgeacc {edgeacc.__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("selftest", help="engine self-demo: accumulate, prove, verify, reject tampering")
    p.add_argument("--items", type=int, default=1000)
    p.set_defaults(func=cmd_selftest)

    p = sub.add_parser("init", help="create an embedded deployment in an empty directory")
    p.add_argument("dir")
    p.add_argument("--subchains", type=int, default=2)
    p.add_argument("--peers", type=int, default=2, help="peers per chain")
    p.add_argument("--threshold", type=int, default=2, help="endorsements a block needs (k-of-any)")
    p.add_argument("--interlock-blocks", type=int, default=50)
    p.add_argument("--interlock-seconds", type=float, default=2.0)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("submit", help="submit Type-I records and wait until they are committed")
    p.add_argument("dir")
    p.add_argument("--chain", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="the record's payload as text")
    src.add_argument("--file", help="a file whose bytes are the payload (or the object, with --object)")
    src.add_argument("--lines", help="one record per line of this file")
    p.add_argument("--object", action="store_true", help="put --file in the object store; the record carries its digest and URL")
    p.add_argument("--signer", default="client", help="identity that signs (created if new)")
    p.add_argument("--role", default="client", choices=("client", "device"), help="role of a new signer")
    p.add_argument("--interlock", action="store_true", help="run an interlocking round afterwards")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("interlock", help="send Type-II to the main chain and Type-III to every sub-chain now")
    p.add_argument("dir")
    p.set_defaults(func=cmd_interlock)

    p = sub.add_parser("status", help="heights, digests and interlocking state of every chain")
    p.add_argument("dir")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("verify", help="check a transaction through Protocol 1 from another chain")
    p.add_argument("dir")
    p.add_argument("txid", help="transaction id (hex)")
    p.add_argument("--from", dest="from_chain", required=True, help="the verifier's chain")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("inspect", help="print a block (the latest when no height is given)")
    p.add_argument("dir")
    p.add_argument("chain")
    p.add_argument("height", type=int, nargs="?")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("revoke", help="put an identity's certificate on the CA's revocation list")
    p.add_argument("dir")
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)

    try:
        from ledger.provenance.demo import add_demo_parser  # DNN provenance: ledger/provenance/demo.py
    except ModuleNotFoundError as exc:  # a core install: the provenance stack is an extra
        _add_missing_demo_parser(sub, exc.name)
    else:
        add_demo_parser(sub)
    return ap


def _add_missing_demo_parser(sub, missing: str | None) -> None:
    """`edgeacc demo` without the [demo] extra: say what to install instead of a traceback."""
    def refuse(args) -> int:
        print(f"error: `edgeacc demo` needs the demo extra ({missing} is not installed): "
              "pip install 'edgeacc[demo]'", file=sys.stderr)
        return 2

    # prefix_chars: take every option of the real demo as a plain word, then refuse
    p = sub.add_parser("demo", help="protected federated training (needs: pip install 'edgeacc[demo]')",
                       prefix_chars="\0", add_help=False)
    p.add_argument("args", nargs="*")
    p.set_defaults(func=refuse)


def main(argv=None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (LedgerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
