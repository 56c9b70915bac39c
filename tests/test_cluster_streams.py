"""Submission streams at a real node (ledger.cluster.node: MAX_STREAMS, STREAM_IDLE_SECONDS):
past the node's bound of streams a client is told ServerBusy and the client SDK submits the
Submit way instead; an idle stream is closed. Real etcd and node processes."""
import time

import pytest

from ledger import errors
from ledger.cluster.client import connect
from ledger.cluster.transport import pack
from cluster_helpers import Harness, need_etcd


def test_a_client_past_the_nodes_streams_submits_the_submit_way(tmp_path):
    need_etcd()
    h = Harness(tmp_path / "c", max_streams=1, stream_idle_seconds=3)
    try:
        h.start()
        holder = h.client
        assert holder.submit(h.chain, b"on the stream").result(30)  # (its stream holds the node's only place)
        assert holder._streams
        cutter = h.wait_cutter()
        address = {p["name"]: p["address"] for c in h.cluster.deployment["chains"] for p in c["peers"]}[cutter]
        with pytest.raises(errors.ServerBusy, match="use Submit"):
            next(iter(holder._channel(cutter, address).stream("SubmitStream", iter([pack()]))))
        with connect(h.cluster.client_config) as other:
            receipts = [other.submit(h.chain, b"busy-%d" % i).result(30) for i in range(3)]
            assert [r.chain_id for r in receipts] == [h.chain] * 3
            assert not other._streams  # refused (ServerBusy): its submissions went as Submit calls
        deadline = time.monotonic() + 30
        while holder._streams and time.monotonic() < deadline:
            time.sleep(0.2)  # nothing crosses the holder's stream: the node closes it
        assert not holder._streams
        assert holder.submit(h.chain, b"after").result(30).chain_id == h.chain
        h.assert_exactly_once(receipts)
    finally:
        h.stop()
