"""Skiff's store: a Raft-replicated MVCC key-value store speaking etcd v3's gRPC API.

Role: holds all cluster state; only the apiserver talks to it (through store/client.py), and the
real `etcdctl` works against it. Writes: through Raft (pysyncobj) into the MVCC state machine.
Invariants: one global revision; every replica applies the same commands in the same order; an
acknowledged write is in the journal of a majority; linearizable reads pass a log barrier.

Modules: mvcc (pure core), raft (pysyncobj shell), watch (fan-out), server (gRPC edge),
app (flags and wiring), client and client_errors (the async client other components use).
"""
