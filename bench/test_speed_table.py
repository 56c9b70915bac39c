"""pytest-benchmark: issue 12's table, each row's edgeacc and gmpy2 sides in one group, so
the comparison columns give the ratio from one run:

    python -m pytest bench/test_speed_table.py --benchmark-enable --benchmark-group-by=group
"""
import pytest

from .common import QUICK
from .speed_table import make_rows

ROWS = ["verify", "batch8", "batch16", "batch1024", "h2p", "all_witnesses"]
_built = {}


def _row(key):
    if key not in _built:
        _built[key] = make_rows(quick=QUICK, which=[key])[key]()
    return _built[key]


@pytest.mark.parametrize("impl", ["edgeacc", "gmpy2"])
@pytest.mark.parametrize("key", ROWS)
def test_row(benchmark, key, impl):
    row = _row(key)
    benchmark.group = row.name
    benchmark.extra_info["items"] = row.items
    if key == "all_witnesses":
        if impl == "gmpy2":
            pytest.skip("absolute goal (seconds); no gmpy2 counterpart")
        benchmark.pedantic(row.edgeacc, rounds=1, iterations=1)
        return
    benchmark(row.edgeacc if impl == "edgeacc" else row.gmpy2)
