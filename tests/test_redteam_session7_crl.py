"""Red team, session 7: the CRL as a log entry (ledger.cluster.ordered_crl) when a peer's
store is behind the revocations it kept beside it, and when keeping them fails. No etcd (the
stand-in log of tests/test_redteam_cluster7.py)."""
import datetime

import pytest

from ledger import errors
from ledger.cluster.node import deployment_params
from ledger.cluster.ordered_crl import crl_entry
from ledger.identity import CertificateAuthority, load_certificate, load_private_key, load_revocation_list
from cluster_helpers import empty_block_on
from test_cluster_crl import CHAIN
from test_redteam_cluster7 import _revoke, world  # noqa: F401 (world: the fixture)


def _co_signed_then_crl(w):
    """The log: blocks 0..2, block 3 co-signed by R before its revocation, then the CRL entry
    revoking R (every follower takes block 3: it comes before the entry)."""
    crl, when = _revoke(w, f"{CHAIN}.peer2")
    co_signed = empty_block_on(deployment_params(w.deployment), w.blocks[2].header,
                               max(w.blocks[2].header.timestamp_ms, when - 1), (w.peers[2], w.peers[0]))
    w.log.entries[3], w.log.entries[4] = co_signed.to_bytes(), crl_entry(load_revocation_list(crl))
    return co_signed


def test_a_store_behind_its_kept_revocations_takes_the_blocks_before_the_entry(world, tmp_path):
    """A peer keeps the ordered serials beside its store; its store then holds fewer blocks
    than when it kept them (`edgeacc node --repair` after a rollback, a restored backup): it
    reads the log again from there. The old code refused R's signature on every block it read
    from then on, so it skipped block 3 - which precedes the entry and which every other
    follower took - and left the chain there (block 4 links to block 3): a split. The serial
    counts from the entry's height on, as the log ordered it."""
    w = world
    path = tmp_path / "ordered-crl"
    co_signed = _co_signed_then_crl(w)
    first = w.follower(1, path)
    w.opened.append(first.peer)
    assert first.sync() == 4 and first.peer.digest(3) == co_signed.digest
    behind = w.follower(1, path)  # (an empty store, the kept file of the first)
    w.opened.append(behind.peer)
    assert behind.revocations.serials == first.revocations.serials != frozenset()
    assert behind.sync() == 4 and behind.skipped == 0
    assert behind.peer.digest(3) == co_signed.digest
    # and R still signs no block after the entry
    after = empty_block_on(deployment_params(w.deployment), co_signed.header, co_signed.header.timestamp_ms,
                           (w.peers[2], w.peers[1]))
    w.log.entries[5] = after.to_bytes()
    assert behind.sync() == first.sync() == 4 and behind.skipped == first.skipped == 1


def test_a_crl_entry_not_kept_is_read_again_and_then_kept(world, tmp_path):
    """Keeping the ordered serials fails (a full disk): the entry is read again, not passed.
    The old code took the serials in memory before the write, so the retry found nothing new
    to keep and the file never held them: after a restart (the entry trimmed from the log) the
    peer took a backdated block R co-signed that the others skipped."""
    w = world
    path = tmp_path / "kept" / "ordered-crl"  # (its directory missing: the write fails)
    _co_signed_then_crl(w)
    f = w.follower(1, path)
    w.opened.append(f.peer)
    with pytest.raises(errors.StorageError):
        f.sync()
    assert f.peer.height == 4 and not f.revocations.serials
    path.parent.mkdir()
    assert f.sync() == 4 and f.revocations.serials
    restarted = w.follower(1, path)
    w.opened.append(restarted.peer)
    assert restarted.revocations.serials == f.revocations.serials


def test_a_restarted_peer_keeps_what_it_kept_before_beside_what_it_takes_next(world, tmp_path):
    """The old code read the kept entries on start but did not hold them as kept: the next CRL
    entry it took rewrote the file with that entry alone, and on the restart after that (the
    log trimmed) the serials of the earlier entries were gone - a block R co-signed after the
    first entry was then taken by this peer and skipped by the others. (The CA's CRLs usually
    repeat every earlier serial; one that does not, CA-signed, still orders its own.)"""
    w = world
    path = tmp_path / "ordered-crl"
    ca = CertificateAuthority(load_private_key(w.d / "ca" / "ca.key"), load_certificate(w.d / "ca" / "ca.crt"))
    now = datetime.datetime.now(datetime.timezone.utc)
    revoke_r = ca.revocation_list({w.peers[2].certificate.serial_number: now})
    revoke_client = ca.revocation_list({w.client.certificate.serial_number: now})
    w.log.entries[3] = crl_entry(revoke_r)
    first = w.follower(0, path)
    w.opened.append(first.peer)
    assert first.sync() == 3
    w.log.entries[4] = crl_entry(revoke_client)
    restarted = w.follower(0, path)
    w.opened.append(restarted.peer)
    assert restarted.sync() == 3 and restarted.revocations.serials == {w.peers[2].certificate.serial_number,
                                                                       w.client.certificate.serial_number}
    for slot in (3, 4):
        del w.log.entries[slot]  # (trimmed; the stand-in log keeps the blocks)
    again = w.follower(0, path)
    w.opened.append(again.peer)
    assert again.revocations.serials == restarted.revocations.serials
