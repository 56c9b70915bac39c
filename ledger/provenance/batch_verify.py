"""Protocol 1 for many transactions at once: now one path in the ledger,
`ledger.Verifier.verify_many` (also `Network.verify_many`), which shares witnesses per
block and the Type-II proof per chain and checks the distinct membership statements with one
edgeacc.batch_verify. This module keeps the names the auditor used before.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

import ledger
from ledger import checks


def verify_many(net: ledger.Network, tx_ids: Iterable[bytes], verifier_chain: str) -> dict[bytes, ledger.Verdict]:
    """Protocol 1 verdicts for `tx_ids` (32-byte ids, as bytes or hex; the verdicts are keyed
    by the bytes), run by a verifier on `verifier_chain`: net.verify_many. As before, a block
    or record that cannot be fetched is "unavailable" here (Verifier says "not-found")."""
    checks.instance(net, ledger.Network, "net")
    verdicts = net.verify_many(tx_ids, verifier_chain)
    return {tx_id: dataclasses.replace(v, code="unavailable") if v.code == "not-found" else v
            for tx_id, v in verdicts.items()}
