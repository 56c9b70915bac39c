"""The batched Protocol 1 (`Network.verify_many`) gives the single verifier's verdicts."""
from __future__ import annotations

import ast
from pathlib import Path

import ledger
import ledger.provenance


def test_batched_verdicts_match_the_ledger_verifier(tmp_path, toy):
    with ledger.Network.init(tmp_path / "net", subchains=2, params=toy, auto_interlock=False) as net:
        pending = [net.submit(chain, f"record {k}".encode()) for k in range(12) for chain in ("edge-0", "main")]
        receipts = [p.result() for p in pending]
        net.interlock()
        late = net.submit("edge-0", b"after the interlocking round").result()
        tx_ids = [r.tx_id for r in receipts] + [late.tx_id, bytes(32)]
        for verifier_chain in ("edge-1", "main", "edge-0"):
            batched = net.verify_many(tx_ids, verifier_chain)
            assert set(batched) == set(tx_ids)
            for tx_id in [r.tx_id for r in receipts]:
                assert batched[tx_id].ok, batched[tx_id].reason
                assert net.verify(tx_id, verifier_chain).ok
            assert batched[bytes(32)].code == "unknown-transaction"
        assert net.verify_many([late.tx_id], "edge-1")[late.tx_id].code == "not-interlocked"
        assert not net.verify(late.tx_id, "edge-1").ok
        net.interlock()
        assert net.verify_many([late.tx_id], "edge-1")[late.tx_id].ok


def test_provenance_uses_only_the_public_ledger_api():
    """Every name the provenance layer imports from the ledger is in ledger.__all__ (or lives in
    a module that is: ledger.errors)."""
    public = set(ledger.__all__)
    private = []
    for path in sorted(Path(ledger.provenance.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                modules, names = [node.module or ""], [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [alias.name for alias in node.names], []
            else:
                continue
            for module in modules:
                top, _, rest = module.partition(".")
                submodule = rest.split(".")[0]
                if top != "ledger" or submodule in public or submodule == "provenance":
                    continue  # not the ledger, an exported module (ledger.errors), or this layer
                if names:
                    private += [f"{path.name}: {module}.{name}" for name in names if name not in public]
                elif submodule:
                    private.append(f"{path.name}: import {module}")
    assert private == []
