"""The `edgeacc` console script: the engine self-test and the embedded ledger's commands.

    edgeacc --version
    edgeacc [-q|--quiet] COMMAND ...   (also after the command)
    edgeacc selftest [--items N]
    edgeacc init DIR [--subchains N] [--peers P] [--threshold K] [--interlock-blocks K] [--interlock-seconds T]
    edgeacc submit DIR --chain edge-0 (--data TEXT | --file PATH [--object] | --lines PATH) [--signer NAME]
    edgeacc interlock DIR
    edgeacc status DIR
    edgeacc revalidate DIR               (every block of every peer, with a progress bar)
    edgeacc repair DIR PEER...           (peers whose logs were cut back: caught up from the others)
    edgeacc verify DIR TXID --from CHAIN
    edgeacc inspect DIR CHAIN [HEIGHT]
    edgeacc revoke DIR NAME
    edgeacc verify-model STATEMENT --model FILE --status FILE [--modulus FILE [--insecure]]
    edgeacc ca init|issue|revoke ...; edgeacc node CONFIG; edgeacc cluster up|down DIR
                          (the distributed deployment: ledger/cluster/commands.py)
    edgeacc demo [--rounds R] [--trainer numpy-mlp|torch-mlp] [--audit-fraction F] [--plot PATH]

Exit status: 0 on success (verify: the transaction is valid), 1 when verify or verify-model rejects, 2 on an
error (bad arguments such as a malformed transaction id, bad input, a damaged data directory),
3 when submit stored records on fewer peers than the quorum (they are on the chain: do not
submit them again; reopening catches the lagging peers up), 130 when interrupted (Ctrl-C). Results go to stdout; operational messages (what was done,
warnings, errors) go through `logging` to stderr, and --quiet keeps only warnings and errors.
Progress bars appear only when stderr is a terminal and --quiet is not given.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

import edgeacc
from ledger import checks
from ledger.errors import CommitPending, LedgerError

log = logging.getLogger("edgeacc.cli")

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_PENDING = 3  # submit: on the chain, below the quorum (never to be signed again)


def _open(args, **kw):
    from ledger.network import Network

    return Network.open(args.dir, progress=args.progress, auto_interlock=False, **kw)


def _tx_id(text: str) -> bytes:
    """argparse type of a transaction id: 64 hex digits (else a usage error, exit 2)."""
    try:
        return checks.identifier(text, "txid", "transaction id")
    except LedgerError:
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a transaction id (64 hex digits)") from None


def cmd_selftest(args) -> int:
    from edgeacc.__main__ import main as engine_demo

    return engine_demo(["--items", str(args.items)])


def cmd_init(args) -> int:
    from ledger.network import Network

    with Network.init(args.dir, subchains=args.subchains, peers_per_chain=args.peers,
                      endorsement_threshold=args.threshold, interlock_blocks=args.interlock_blocks,
                      interlock_seconds=args.interlock_seconds, auto_interlock=False) as net:
        chains = ", ".join(net.services)
    log.info("created %s: chains %s; %d peers each; %d-of-any endorsement; client identity 'client'",
             args.dir, chains, args.peers, args.threshold)
    return 0


def cmd_submit(args) -> int:
    with _open(args) as net:
        signer = net.identity(args.signer, role=args.role)
        if args.lines:
            records = Path(args.lines).read_bytes().splitlines()
            txs = [net.record(args.chain, r, signer=signer)
                   for r in tqdm(records, desc="signing", unit="tx", disable=not args.progress)]
            pending = net.submit_transactions(txs)
            outcomes = [_outcome(p) for p in tqdm(pending, desc="committing", unit="tx", disable=not args.progress)]
        else:
            if args.file:
                data = Path(args.file).read_bytes()
                obj = net.put_object(data) if args.object else None
                payload = b"" if args.object else data
            else:
                obj, payload = None, args.data.encode()
            outcomes = [_outcome(net.submit(args.chain, payload, obj=obj, signer=signer))]
        for r, pending in outcomes:
            print(f"{r.tx_id.hex()} {r.chain_id} height {r.height} position {r.position}"
                  + (f" pending ({pending.durable} of {pending.quorum} peers)" if pending else ""))
        waiting = [r for r, pending in outcomes if pending]
        if waiting:
            # The records are on the chain: signing them again would record them twice.
            log.warning("%d record(s) are stored on fewer peers than the quorum: they are not lost, do not "
                        "submit them again. Reopening the deployment catches the lagging peers up: run "
                        "`edgeacc status %s`, then `edgeacc verify %s TXID --from CHAIN` for a receipt.",
                        len(waiting), args.dir, args.dir)
            return EXIT_PENDING
        if args.interlock:
            net.interlock()
    return 0


def _outcome(pending) -> tuple:
    """(receipt, None) once committed, (receipt, the CommitPending) when below the quorum."""
    try:
        return pending.result(), None
    except CommitPending as exc:
        return exc.receipt, exc


def cmd_interlock(args) -> int:
    with _open(args) as net:
        report = net.interlock()
    for r in report.type2:
        print(f"Type-II  -> {r.chain_id} height {r.height}  {r.tx_id.hex()}")
    for r in report.type3:
        print(f"Type-III -> {r.chain_id} height {r.height}  {r.tx_id.hex()}")
    if not report.type2 and not report.type3:
        log.info("nothing new to interlock")
    return 0


def cmd_status(args) -> int:
    with _open(args) as net:
        print(json.dumps(net.status(), indent=2))
    return 0


def cmd_revalidate(args) -> int:
    """Re-validate every stored block of every peer (an open validates only the blocks above
    each peer's checkpoint), then record the checkpoints."""
    with _open(args, revalidate=True) as net:
        heights = {cid: net.height(cid) for cid in net.chain_ids}
    log.info("every block re-validated: %s", ", ".join(f"{cid} {h}" for cid, h in heights.items()))
    print(json.dumps(heights))
    return 0


def cmd_repair(args) -> int:
    """Open with the named peers' cut-back stores caught up from their chains' other peers
    (an open refuses a store that lacks the block its peer's signed checkpoint names)."""
    with _open(args, repair=args.peers) as net:
        heights = {cid: net.height(cid) for cid in net.chain_ids}
    log.info("repaired %s: %s", ", ".join(args.peers), ", ".join(f"{cid} {h}" for cid, h in heights.items()))
    print(json.dumps(heights))
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


def cmd_verify_model(args) -> int:
    """A model provenance statement checked offline (ledger/provenance/manifest.py)."""
    from ledger.provenance.manifest import ManifestError, verify_model

    try:
        statement = json.loads(Path(args.statement).read_bytes())
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
        log.error("error: %s is not JSON: %s", args.statement, str(exc)[:80])
        return 2
    try:
        params = edgeacc.Params.rsa2048() if args.modulus is None else \
            edgeacc.Params(int(Path(args.modulus).read_text().strip(), 16), insecure=args.insecure)
    except (ValueError, edgeacc.errors.EdgeaccError) as exc:
        log.error("error: --modulus: %s", str(exc)[:120])
        return 2
    models = {Path(path).name: Path(path).read_bytes() for path in args.model}
    try:
        proved = verify_model(statement, models, Path(args.status).read_bytes(), params)
    except ManifestError as exc:
        print(f"REJECTED: {exc}")
        return 1
    print(f"VERIFIED: {proved.model_digest} is the model of {proved.rounds} recorded FedAvg rounds over "
          f"{proved.runs} local runs ({proved.records} records proved under main height {proved.main_height})")
    return 0


def cmd_revoke(args) -> int:
    with _open(args) as net:
        net.revoke(args.name)
    log.info("revoked %s", args.name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every subcommand (add new commands here)."""
    ap = argparse.ArgumentParser(prog="edgeacc", description="RSA-accumulator engine and two-layer edge ledger")
    ap.add_argument("--version", action="version", version=f"edgeacc {edgeacc.__version__}")
    ap.add_argument(*_QUIET, **_QUIET_OPTIONS, default=False)
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_CommandParser)

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

    p = sub.add_parser("revalidate", help="re-validate every stored block of every peer (progress bar)")
    p.add_argument("dir")
    p.set_defaults(func=cmd_revalidate)

    p = sub.add_parser("repair", help="catch up peers whose logs were cut back below their checkpoints")
    p.add_argument("dir")
    p.add_argument("peers", nargs="+", metavar="peer", help="the peers to repair (e.g. edge-0.peer1)")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("verify", help="check a transaction through Protocol 1 from another chain")
    p.add_argument("dir")
    p.add_argument("txid", type=_tx_id, help="transaction id (64 hex digits)")
    p.add_argument("--from", dest="from_chain", required=True, help="the verifier's chain")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("inspect", help="print a block (the latest when no height is given)")
    p.add_argument("dir")
    p.add_argument("chain")
    p.add_argument("height", type=int, nargs="?")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("verify-model", help="check a model's provenance statement offline against a main-chain status")
    p.add_argument("statement", help="the in-toto statement (JSON)")
    p.add_argument("--model", action="append", required=True, help="the model file the statement's subject names")
    p.add_argument("--status", required=True, help="the trusted main-chain status (signed header bytes)")
    p.add_argument("--modulus", help="file with the deployment's modulus in hex (default: RSA-2048)")
    p.add_argument("--insecure", action="store_true", help="accept a test-only modulus")
    p.set_defaults(func=cmd_verify_model)

    p = sub.add_parser("revoke", help="put an identity's certificate on the CA's revocation list")
    p.add_argument("dir")
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)

    from ledger.cluster.commands import add_parsers as add_cluster_parsers  # ca, node, cluster

    add_cluster_parsers(sub)
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
        log.error("error: `edgeacc demo` needs the demo extra (%s is not installed): "
                  "pip install 'edgeacc[demo]'", missing)
        return 2

    # prefix_chars: take every option of the real demo as a plain word, then refuse
    p = sub.add_parser("demo", help="protected federated training (needs: pip install 'edgeacc[demo]')",
                       prefix_chars="\0", add_help=False)
    p.add_argument("args", nargs="*")
    p.set_defaults(func=refuse)


_QUIET = ("-q", "--quiet")
_QUIET_OPTIONS = dict(action="store_true", help="no progress bars or informational messages")


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: takes --quiet after the command too (SUPPRESS: an absent
    option leaves the value given before the command)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.prefix_chars == "-":
            self.add_argument(*_QUIET, **_QUIET_OPTIONS, default=argparse.SUPPRESS)


def _log_to_stderr(quiet: bool) -> None:
    """One handler on the current stderr (main may run many times in one process)."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def main(argv=None) -> int:
    """Run one command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        _log_to_stderr(args.quiet)
        args.progress = sys.stderr.isatty() and not args.quiet
        return args.func(args)
    except (LedgerError, OSError) as exc:
        log.error("error: %s", exc)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
