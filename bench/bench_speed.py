"""asv: issue 12's table, every row as a ratio to gmpy2 measured in the same process
(bench/speed_table.py builds the rows; `python -m bench.speed_table` prints the table)."""
from .common import QUICK
from .speed_table import make_rows

ROWS = ["verify", "batch8", "batch16", "batch1024", "h2p", "all_witnesses"]


class SpeedTable:
    """track_ratio: edgeacc time / gmpy2 time (all_witnesses: seconds at n = 10,000)."""

    params = [ROWS]
    param_names = ["row"]
    timeout = 600

    def setup(self, row):
        self.row = make_rows(quick=QUICK, which=[row])[row]()

    def track_ratio(self, row):
        if self.row.seconds:
            return self.row.measure(rounds=1)[0]
        te, tg = self.row.measure(3)
        return te / tg

    track_ratio.unit = "ratio to gmpy2 (all_witnesses: s)"
