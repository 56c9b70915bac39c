"""Command line: ``python -m edgeacc.dkg ceremony -k 3 --bits 2048`` runs a local ceremony
with one process per party; ``python -m edgeacc.dkg party ...`` runs a single party;
``python -m edgeacc.dkg credentials DIR`` writes a throw-away CA and party certificates."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeacc import _checks
from edgeacc.dkg.protocol import MAX_PARTIES, MIN_PARTIES, DkgConfig
from edgeacc.errors import DkgError, EdgeaccError


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _peer(text: str) -> tuple[int, tuple[str, int]]:
    index, _, address = text.partition("=")
    return int(index), _address(address)


def _config(args: argparse.Namespace) -> DkgConfig:
    return DkgConfig(parties=args.parties, bits=args.bits, threshold=args.threshold,
                     soundness_bits=args.soundness_bits, batch_size=args.batch_size,
                     max_candidates=args.max_candidates, timeout=args.timeout)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--parties", type=int, default=3)
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--threshold", type=int, default=None, help="Shamir degree d (default (k-1)//2)")
    parser.add_argument("--soundness-bits", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-candidates", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for any message")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeacc.dkg", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ceremony = commands.add_parser("ceremony", help="run a local k-party ceremony, one process per party")
    _common(ceremony)
    ceremony.add_argument("--json", action="store_true", help="print the result as JSON")
    credentials = commands.add_parser(
        "credentials", help="write a throw-away CA and party keys/certificates (for trials)")
    credentials.add_argument("directory", type=Path)
    credentials.add_argument("-k", "--parties", type=int, default=3)
    party = commands.add_parser("party", help="run one party")
    _common(party)
    party.add_argument("--index", type=int, required=True)
    party.add_argument("--credentials", type=Path, required=True,
                       help="directory with ca.pem, party-<i>.pem, party-<i>.key")
    party.add_argument("--listen", type=_address, default=("127.0.0.1", 0))
    party.add_argument("--peer", type=_peer, action="append", default=[], metavar="J=HOST:PORT")
    party.add_argument("--peers-from-stdin", action="store_true",
                       help="print 'LISTENING host port', then read the peer table as JSON from stdin")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (EdgeaccError, OSError) as exc:     # bad arguments, unreadable credentials, ports
        print(f"{parser.prog}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from edgeacc.dkg.party import Credentials, make_credentials, run_ceremony, run_party

    if args.command == "credentials":
        _checks.small_int(args.parties, "parties", MIN_PARTIES, MAX_PARTIES)
        args.directory.mkdir(parents=True, exist_ok=True)
        make_credentials(args.directory, args.parties)
        print(f"wrote ca.pem and party-1..{args.parties} keys to {args.directory}")
        return 0
    if args.command == "party":
        peers = None if args.peers_from_stdin else dict(args.peer)
        credentials = Credentials.in_directory(args.credentials, args.index)
        missing = [str(f) for f in (credentials.ca, credentials.cert, credentials.key) if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"--credentials: missing {', '.join(missing)}")
        try:
            report = run_party(args.index, _config(args), credentials, args.listen, peers)
        except DkgError as exc:
            print(json.dumps({"party": args.index, "error": type(exc).__name__, "message": str(exc)}))
            return 1
        print(json.dumps(report))
        return 0

    try:
        result = run_ceremony(_config(args))
    except DkgError as exc:
        print(f"ceremony failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"n": hex(result.n), "wall_seconds": result.wall_seconds,
                          "stats": [s.as_dict() for s in result.stats]}))
    else:
        print(f"N ({result.params.bits} bits) = {hex(result.n)}")
        print(f"wall time {result.wall_seconds:.1f} s, {result.config.parties} processes")
        for s in result.stats:
            print(f"  party {s.index}: {s.candidates} candidates, {s.trial_division_survivors} past "
                  f"trial division, {s.biprimality_tests} biprimality tests; sent "
                  f"{s.messages_sent} messages / {s.bytes_sent} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
