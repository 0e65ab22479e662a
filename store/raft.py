"""The Raft shell around the MVCC core: pysyncobj orders commands, every replica applies them.

Threads: pysyncobj does its networking, journal writes and applies on ONE tick thread that this
module runs (`autoTick=False`, so nothing of ours is touched before `__init__` finishes). The gRPC
shell lives on an asyncio loop. The hand-off points are exactly:
- `propose(cmd)` (asyncio thread): commands proposed in one loop iteration go to Raft as one entry
  (`_apply_batch`), so many concurrent writes cost one log append and one replication round.
- `_apply_batch` (tick thread) mutates the MVCC state under `self.lock` and hands the batch's
  events to `on_events`, and the caller's futures are resolved through `loop.call_soon_threadsafe`.
Reads on the asyncio thread take `self.lock` too.

Durability: the journal is an mmap; after every tick in which it changed we `msync` it (group commit),
and snapshots are written with fsync before they replace the old one. See docs/STORE.md.
"""
from __future__ import annotations

import asyncio
import logging
import os
import pickle
import threading
import time
from dataclasses import dataclass

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

from store.mvcc import MVCC, Applied, MvccError

log = logging.getLogger(__name__)


class ProposalFailed(Exception):
    """Raft did not confirm the command. `message` is etcd's text for the situation.
    `not_sent`: the command never left this member, so it certainly was not applied."""

    def __init__(self, message: str, not_sent: bool = False):
        super().__init__(message)
        self.message = message
        self.not_sent = not_sent


NOT_SENT = -1  # our own fail reason: a forwarded command that the transport dropped


_FAIL_MESSAGES = {
    FAIL_REASON.QUEUE_FULL: "etcdserver: too many requests",
    FAIL_REASON.MISSING_LEADER: "etcdserver: no leader",
    FAIL_REASON.DISCARDED: "etcdserver: leader changed",
    FAIL_REASON.NOT_LEADER: "etcdserver: leader changed",
    FAIL_REASON.LEADER_CHANGED: "etcdserver: leader changed",
    FAIL_REASON.UNKNOWN_OUTCOME: "etcdserver: request timed out",
    NOT_SENT: "etcdserver: no leader",
}


MAX_INFLIGHT_ENTRIES = 1
STALLED_AFTER = 0.5  # seconds after which an unanswered entry no longer holds back the next
PEER_PING_PERIOD = 0.5
PING = "skiff_ping"


@dataclass(frozen=True)
class RaftConfig:
    self_addr: str                 # "host:port" of this member's peer listener
    partner_addrs: tuple[str, ...]
    data_dir: str
    election_timeout_ms: int = 1000
    heartbeat_ms: int = 100
    password: str | None = None
    snapshot_entries: int = 20000  # Raft entries (batches) between snapshots


class RaftNode(SyncObj):
    def __init__(self, cfg: RaftConfig, loop: asyncio.AbstractEventLoop, on_events, on_reset):
        # Attributes made BEFORE SyncObj.__init__ are node-local: pysyncobj leaves them out of
        # snapshots. Replicated state lives only in self.mvcc, which our own serializer writes.
        self.cfg = cfg
        self.loop = loop
        self.lock = threading.RLock()
        self.on_events = on_events          # called on the loop with [(rev, [Event])]
        self.on_reset = on_reset            # called on the loop after a snapshot replaced the state
        self.lease_deadlines: dict[int, float] = {}  # node-local monotonic expiry times
        self._batch: list = []
        self._batch_futs: list = []
        self._flush_scheduled = False
        self._inflight = 0
        self._waiting_barrier: asyncio.Future | None = None
        self._journal_mark = None
        self._stopping = threading.Event()
        et = cfg.election_timeout_ms / 1000.0
        hb = cfg.heartbeat_ms / 1000.0
        journal = os.path.join(cfg.data_dir, "raft.journal")
        conf = SyncObjConf(
            autoTick=False,
            appendEntriesUseBatch=False,       # send each entry at once: sub-ms commits
            appendEntriesPeriod=hb,
            # etcd waits a random [T, 2T) before an election; we wait [T/2, T), so that with the
            # default 1 s a dead leader is replaced well within 2 s (docs/STORE.md).
            raftMinTimeout=max(et / 2, 3.5 * hb),  # pysyncobj needs > 3 heartbeats
            raftMaxTimeout=et,
            connectionTimeout=max(3.5, et * 2),
            connectionRetryTime=0.3,           # reconnect to a restarted peer quickly (default 5 s)
            leaderFallbackTimeout=et * 2,      # a leader cut off from its quorum steps down
            commandsWaitLeader=True,
            journalFile=journal,
            fullDumpFile=os.path.join(cfg.data_dir, "raft.snapshot"),
            serializer=self._write_snapshot,
            deserializer=self._read_snapshot,
            logCompactionMinEntries=cfg.snapshot_entries,
            logCompactionMinTime=600,
            bindAddress=cfg.self_addr,
            password=cfg.password,
            onStateChanged=self._on_state_changed,
        )
        super().__init__(cfg.self_addr, list(cfg.partner_addrs), conf)
        self.mvcc = MVCC()
        transport = self._SyncObj__transport
        self._transport_send = transport.send
        transport.send = self._send_or_fail_fast
        self._thread = threading.Thread(target=self._tick_loop, name="raft-tick", daemon=True)
        # Our own descriptor of the journal file: fsync works on the file, whichever descriptor,
        # and pysyncobj reopens its own when it grows the file.
        self._journal_fd = os.open(journal, os.O_RDONLY)
        self._sync_wanted = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="journal-fsync", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._syncer.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._sync_wanted.set()
        self._syncer.join(5)
        os.fsync(self._journal_fd)
        os.close(self._journal_fd)
        self.destroy()

    def _tick_loop(self) -> None:
        # A lone member commits in its own tick, with no peer message to wake the poll: keep its
        # wait short so that a write does not sit out the whole poll timeout.
        wait = 0.02 if self.cfg.partner_addrs else 0.001
        next_ping = 0.0
        while not self._stopping.is_set():
            try:
                self.doTick(wait)
                self._note_journal_change()
                now = time.monotonic()
                if now >= next_ping:
                    self._ping_peers()
                    next_ping = now + PEER_PING_PERIOD
            except Exception:  # noqa: BLE001 - log and keep the member alive; the tick retries
                log.exception("raft tick failed")
                time.sleep(0.05)

    def _ping_peers(self) -> None:
        """Keeps follower-to-follower connections alive.

        Followers never message each other in Raft, and pysyncobj drops a connection that carried
        nothing for `connectionTimeout`, then retries only now and then. A leader that dies while
        its followers are disconnected from each other leaves them unable to elect a successor
        until they reconnect. A tiny message every PEER_PING_PERIOD keeps the connections up."""
        if self._isLeader():
            return
        for node in self._SyncObj__otherNodes:
            self._transport_send(node, {"type": PING})

    def _note_journal_change(self) -> None:
        j = self._SyncObj__raftLog
        mark = (len(j), j[-1][1] if len(j) else 0)
        if mark != self._journal_mark:
            self._journal_mark = mark
            self._sync_wanted.set()

    def _sync_loop(self) -> None:
        """Group commit on its own thread: fsync the journal whenever a tick changed it.

        The journal is a shared mmap, so its dirty pages are the file's page cache and fsync(fd)
        writes them. os.fsync releases the GIL: the disk works while the tick thread replicates
        and the gRPC thread serves; every change made while one fsync runs is covered by the next."""
        while not self._stopping.is_set():
            self._sync_wanted.wait()
            self._sync_wanted.clear()
            try:
                os.fsync(self._journal_fd)
            except OSError as e:  # noqa: PERF203 - a failing disk must be loud, not fatal here
                log.error("fsync of the Raft journal failed: %s", e)

    def _send_or_fail_fast(self, node, message) -> bool:
        """pysyncobj forwards a follower's command to the leader and ignores whether the send
        worked: a command sent while the connection is down waits for the next leader change.
        We fail it at once instead (it certainly was not applied), so `submit` can retry it."""
        ok = self._transport_send(node, message)
        if not ok and isinstance(message, dict) and message.get("type") == "apply_command":
            cb = self._SyncObj__commandsWaitingReply.pop(message.get("request_id"), None)
            if cb is not None:
                cb(None, NOT_SENT)
        return ok

    # -- Raft safety fix ---------------------------------------------------------------------
    def _SyncObj__onMessageReceived(self, node, message):
        """Trims append-entries that overlap what this follower already holds.

        pysyncobj 0.3.17's follower deletes every entry after `prevLogIdx` before appending, even
        entries that match the leader's. The leader re-sends overlapping ranges (it moves nextIndex
        back to ack+1 while later entries are in flight), so a follower briefly drops entries it
        already acknowledged; a leader crash in that window could lose committed writes. Raft only
        truncates at a conflict. We rewrite such a message before pysyncobj sees it (its handler is
        name-mangled, so this override is what `self.__onMessageReceived` resolves to):
        - entries we hold with the same term are dropped from the message, `prevLogIdx` moves past
          them, so a truncation can only happen at a real conflict;
        - if we hold all of them and everything after is from the sender's term (hence written
          by this very leader, which never overwrites its own entries), `prevLogIdx` becomes our
          last entry: nothing is truncated and the ack covers what we hold.
        """
        if isinstance(message, dict) and message.get("type") == PING:
            return None
        if (isinstance(message, dict) and message.get("type") == "append_entries"
                and "prevLogIdx" in message and "transmission" not in message):
            message = self._trim_overlap(message)
        return super()._SyncObj__onMessageReceived(node, message)

    def _trim_overlap(self, message: dict) -> dict:
        get = self._SyncObj__getEntries
        prev_idx, prev_term = message["prevLogIdx"], message["prevLogTerm"]
        mine = get(prev_idx, 1)
        if not mine or mine[0][2] != prev_term:
            return message  # pysyncobj rejects it and the leader backs off, as Raft says
        entries = list(message.get("entries", []))
        matched = 0
        for _cmd, idx, term in entries:
            have = get(idx, 1)
            if not have or have[0][2] != term:
                break
            prev_idx, prev_term = idx, term
            matched += 1
        if matched < len(entries):
            if matched == 0:
                return message
            out = dict(message)
            out.update(prevLogIdx=prev_idx, prevLogTerm=prev_term, entries=entries[matched:])
            return out
        after = get(prev_idx + 1, 1)
        if not after:
            if matched == 0:
                return message
            out = dict(message)
            out.update(prevLogIdx=prev_idx, prevLogTerm=prev_term, entries=[])
            return out
        if after[0][2] != message["term"]:
            return message  # entries of an older term follow: let Raft truncate them
        last = self._SyncObj__raftLog[-1]
        out = dict(message)
        out.update(prevLogIdx=last[1], prevLogTerm=last[2], entries=[])
        return out

    # -- the replicated entry point ----------------------------------------------------------
    @replicated
    def _apply_batch(self, cmds):
        out: list[Applied] = []
        changed = []
        now = time.monotonic()
        with self.lock:
            for cmd in cmds:
                try:
                    res = self.mvcc.apply(cmd)
                except Exception as e:  # noqa: BLE001 - NEVER let apply raise: it wedges pysyncobj
                    log.exception("apply of %r failed", cmd[0])
                    res = Applied(error=MvccError("INTERNAL", f"etcdserver: {e}"), revision=self.mvcc.rev)
                out.append(res)
                if res.events:
                    changed.append((res.revision, res.events))
                kind = cmd[0]
                if res.error is None and kind in ("lease_grant", "lease_keepalive"):
                    lease = self.mvcc.leases.get(cmd[1])
                    if lease is not None:
                        self.lease_deadlines[cmd[1]] = now + lease[0]
                elif kind == "lease_revoke":
                    self.lease_deadlines.pop(cmd[1], None)
        if changed:
            self.loop.call_soon_threadsafe(self.on_events, changed)
        return out

    # -- proposing (asyncio thread) ---------------------------------------------------------------
    def propose(self, cmd: tuple) -> "asyncio.Future[Applied]":
        fut = self.loop.create_future()
        self._batch.append(cmd)
        self._batch_futs.append(fut)
        if not self._flush_scheduled and self._inflight < MAX_INFLIGHT_ENTRIES:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush_batch)
        return fut

    def _flush_batch(self) -> None:
        """Sends the waiting commands to Raft as one entry.

        Group commit: at most MAX_INFLIGHT_ENTRIES of our entries are in Raft at once; commands
        that arrive meanwhile wait and go together in the next entry. One client sees one entry's
        latency; many clients share entries, so the per-entry cost (pickling, replication, fsync)
        is paid once per batch.

        An entry whose outcome has not come back within STALLED_AFTER stops counting as in
        flight (pysyncobj can keep a forwarded command waiting until the next leader change), so a
        lost entry delays the next batch by that much and never wedges the member."""
        self._flush_scheduled = False
        if not self._batch or self._inflight >= MAX_INFLIGHT_ENTRIES:
            return
        cmds, futs = self._batch, self._batch_futs
        self._batch, self._batch_futs = [], []
        self._waiting_barrier = None  # reads from now on need a barrier proposed after them
        self._inflight += 1
        loop = self.loop
        counted = [True]

        def release():
            if counted[0]:
                counted[0] = False
                self._inflight -= 1
                if self._batch and not self._flush_scheduled:
                    self._flush_scheduled = True
                    loop.call_soon(self._flush_batch)

        stall_timer = loop.call_later(STALLED_AFTER, release)

        def resolve(results, reason):
            stall_timer.cancel()
            release()
            if reason == FAIL_REASON.SUCCESS:
                for f, r in zip(futs, results):
                    if not f.done():
                        f.set_result(r)
            else:
                exc = ProposalFailed(_FAIL_MESSAGES.get(reason, "etcdserver: request timed out"),
                                     not_sent=reason in (NOT_SENT, FAIL_REASON.QUEUE_FULL))
                for f in futs:
                    if not f.done():
                        f.set_exception(exc)

        def callback(results, reason):  # tick thread: never block here
            loop.call_soon_threadsafe(resolve, results, reason)

        try:
            self._apply_batch(cmds, callback=callback)
        except Exception as e:  # noqa: BLE001 - e.g. the queue is full
            resolve(None, FAIL_REASON.QUEUE_FULL)
            log.warning("proposal of %d commands refused: %s", len(cmds), e)

    async def submit(self, cmd: tuple, timeout: float) -> Applied:
        """Proposes `cmd` and waits for this member to apply it. A command that certainly never
        left this member is proposed again (safe for writes too) until `timeout`."""
        deadline = self.loop.time() + timeout
        while True:
            fut = self.propose(cmd)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), max(0.0, deadline - self.loop.time()))
            except asyncio.TimeoutError:
                raise ProposalFailed("etcdserver: request timed out") from None
            except ProposalFailed as e:
                if not e.not_sent or self.loop.time() + 0.02 >= deadline:
                    raise
                await asyncio.sleep(0.02)

    async def read_barrier(self, timeout: float) -> None:
        """Linearizable read fence: returns once this member has applied a log entry committed
        after the call began, so local state reflects every write acknowledged before it.
        Reads share the barrier that is waiting to be sent: it will be proposed after all of them
        arrived, so one no-op command serves them all."""
        deadline = self.loop.time() + timeout
        fut = self._waiting_barrier
        if fut is None:
            fut = self._waiting_barrier = self.propose(("barrier",))
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            raise ProposalFailed("etcdserver: request timed out") from None
        except ProposalFailed as e:
            if not e.not_sent:
                raise
            await self.submit(("barrier",), max(0.0, deadline - self.loop.time()))

    # -- status -----------------------------------------------------------------------------
    def leader_addr(self) -> str | None:
        leader = self._getLeader()
        return None if leader is None else getattr(leader, "address", str(leader))

    def is_leader(self) -> bool:
        return self._isLeader()

    def raft_status(self) -> dict:
        return self.getStatus()

    def _on_state_changed(self, old, new) -> None:  # tick thread
        if new == 2:  # leader: as etcd, give every lease a full TTL again on a leader change
            now = time.monotonic()
            with self.lock:
                for lid, (ttl, _keys) in self.mvcc.leases.items():
                    self.lease_deadlines[lid] = now + ttl
            log.info("became leader term=%s", self.raftCurrentTerm)

    # -- snapshots (tick thread) ----------------------------------------------------------------
    def _write_snapshot(self, path: str, raft_meta) -> None:
        t0 = time.monotonic()
        with self.lock:
            blob = pickle.dumps((raft_meta, self.mvcc), protocol=5)
        with open(path, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        log.info("snapshot written rev=%d bytes=%d in %.3fs", self.mvcc.rev, len(blob), time.monotonic() - t0)

    def _read_snapshot(self, path: str):
        with open(path, "rb") as f:
            raft_meta, mvcc = pickle.load(f)
        now = time.monotonic()
        with self.lock:
            self.mvcc = mvcc
            self.lease_deadlines = {lid: now + ttl for lid, (ttl, _k) in mvcc.leases.items()}
        log.info("snapshot loaded rev=%d compact_rev=%d keys=%d", mvcc.rev, mvcc.compact_rev, len(mvcc.keys))
        self.loop.call_soon_threadsafe(self.on_reset)
        return raft_meta
