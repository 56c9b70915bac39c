"""The `edgeacc` console script (ledger commands are added by the ledger work)."""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    from edgeacc.__main__ import main as engine_demo

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["selftest"]:
        return engine_demo(args[1:])
    print("usage: edgeacc selftest [--items N]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
