"""EtcdLog's watch against a stand-in etcd client: a watch that fails is cancelled at the client
before the next one starts (each re-watch left the old one open)."""
import asyncio
import threading
import time
import types

from ledger.cluster import etcdauth
from ledger.cluster.ordering import ArrivedEntries, EtcdLog


class _FailingWatch:
    """Yields one PUT of slot 0, then fails as a lost member's stream does."""

    def __init__(self, key: bytes) -> None:
        self.key, self.cancelled = key, False

    def __aiter__(self):
        return self._events()

    async def _events(self):
        yield types.SimpleNamespace(kind="PUT", kv=types.SimpleNamespace(key=self.key + b"%020d" % 0, value=b"x"))
        raise ConnectionError("the member went away")

    async def cancel(self) -> None:
        self.cancelled = True


def test_a_failed_watch_is_cancelled_before_the_next_starts():
    log = EtcdLog.__new__(EtcdLog)  # (no etcd: only what start_watch uses)
    log._prefix = etcdauth.chain_prefix("edge-0")
    log._loop = asyncio.new_event_loop()
    threading.Thread(target=log._loop.run_forever, daemon=True).start()
    log._changed, log.head, log._arrived, log._watch_task = threading.Event(), None, ArrivedEntries(), None
    watches = []

    async def watch(key, range_end):
        watches.append(_FailingWatch(key))
        return watches[-1]
    log._client = types.SimpleNamespace(watch=watch)
    log.start_watch()
    deadline = time.monotonic() + 5
    while len(watches) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    log.pause_watch()
    time.sleep(0.1)
    log._loop.call_soon_threadsafe(log._loop.stop)
    assert len(watches) >= 3 and all(w.cancelled for w in watches[:-1])
