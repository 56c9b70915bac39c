"""The client interface (ledger.api.Ledger) matches what the embedded Network implements."""
from __future__ import annotations

import inspect

import ledger
from ledger.api import Ledger, Pending


def _members(protocol) -> list[str]:
    return [name for name, value in vars(protocol).items()
            if (not name.startswith("_") or name in ("__enter__", "__exit__"))
            and (callable(value) or isinstance(value, property))]


def test_network_implements_every_method_with_the_same_parameters():
    for protocol, implementation in ((Ledger, ledger.Network), (Pending, ledger.PendingTx)):
        for name in _members(protocol):
            want, have = getattr(protocol, name), getattr(implementation, name)
            if isinstance(want, property):
                assert isinstance(have, property), name
                continue
            params = lambda f: [(p.name, p.kind) for p in inspect.signature(f).parameters.values()]
            assert params(have) == params(want), name


def test_an_open_network_is_a_ledger(tmp_path, toy):
    with ledger.Network.init(tmp_path / "net", subchains=1, params=toy, auto_interlock=False) as net:
        assert isinstance(net, Ledger)
        pending = net.submit("edge-0", b"x")
        assert isinstance(pending, Pending)
        receipt = pending.result()
        assert net.chain_ids == ["main", "edge-0"] and net.height("edge-0") == 1
        net.interlock()
        verdicts = net.verify_many([receipt.tx_id, receipt.tx_id.hex(), b"short"], "main")
        assert verdicts[receipt.tx_id].ok and not verdicts[b"short"].ok
