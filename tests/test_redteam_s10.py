"""Red team of session 10: block timestamps against certificate validity.

A certificate counts at its block's timestamp (every peer replays alike), and a live block may
be no older than its parent and no more than MAX_CLOCK_SKEW_MS in the future - but it has no
lower bound against the checking peer's clock. On an idle chain a dishonest cutter dates a new
block at its parent's (old) time, and a certificate that expired since then still endorses.
"""
from __future__ import annotations

import datetime

import pytest

from ledger import chain as chain_module
from ledger import errors

from cluster_helpers import empty_block_on
from provenance_helpers import net  # noqa: F401 (fixture)
from test_redteam_session8_provenance import DAY, dated_identity


def test_a_block_backdated_to_its_idle_parent_does_not_revive_an_expired_endorser(net, monkeypatch):
    net.submit("edge-0", b"the parent").result(30)
    peer = net.peer("edge-0")
    parent = peer.signed_header(peer.height - 1).header
    at = datetime.datetime.fromtimestamp(parent.timestamp_ms / 1000, datetime.timezone.utc)
    # a peer of edge-0 valid at the parent's time, expired a day later
    lapsed = dated_identity(net._ca.key, net._ca.certificate, net.trust, "edge-0.peer7", "peer", "edge-0",
                            at - DAY, at + DAY)
    # the chain stayed idle two days: the checking peer's clock is past the expiry
    later = parent.timestamp_ms + 2 * 24 * 3600 * 1000
    monkeypatch.setattr(chain_module, "now_ms", lambda: later)
    backdated = empty_block_on(net.deployment.params, parent, parent.timestamp_ms,
                               [peer.identity, lapsed])
    net.deployment.check_endorsements(backdated.signed, at_ms=None)  # the lapsed peer counts at the block's time
    with pytest.raises(errors.LedgerError):  # so an honest endorser must refuse the date itself
        peer.endorse(backdated)
