"""batch_verify's strategies side by side: the cost model's choice ("auto") against each one
forced (edgeacc.batch.STRATEGIES), per item, on true membership statements of the RSA-2048
modulus, the same weights for all. It shows where the model picks a slower strategy than
one it could have taken (the figures behind csrc/ea_batch.c's and csrc/ea_ifma.c's cost
constants).

    python -m bench.batch_strategies [--threads 1] [--t 1 2 3 4 6 8]
"""
import argparse

from edgeacc.batch import STRATEGIES, _batch_verify_with_weights, _weights

from .common import P, best
from .speed_table import _membership


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--t", type=int, nargs="+", default=[1, 2, 3, 4, 6, 8])
    args = ap.parse_args(argv)
    print(f"| t | {' | '.join(STRATEGIES)} | fastest forced |\n|---|{'---|' * len(STRATEGIES)}---|")
    for t in args.t:
        items = _membership(t, b"strategies-%d" % t)
        weights = _weights(t, 128)
        per_item = {}
        for name in STRATEGIES:
            def run(name=name):
                return _batch_verify_with_weights(P, items, weights, threads=args.threads, strategy=name)
            if run() != []:
                raise SystemExit(f"strategy {name} refused true statements at t = {t}")
            per_item[name] = min(best(run, 20) for _ in range(3)) / t
        fastest = min((v, k) for k, v in per_item.items() if k != "auto")[1]
        print(f"| {t} | {' | '.join(f'{v * 1e6:.1f} us' for v in per_item.values())} | {fastest} |", flush=True)


if __name__ == "__main__":
    main()
