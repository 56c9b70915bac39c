"""The distributed deployment (DESIGN.md section 4, "Beyond one process"): every peer is a
process of its own (`edgeacc node`), peers and clients talk gRPC over mutual TLS, and each
chain's blocks are ordered through an etcd cluster.

    ledger.cluster.authority   the operator's offline CA directory: init, issue, revoke
    ledger.cluster.transport   gRPC over mutual TLS, the call-time certificate checks, the wire
    ledger.cluster.ordering    a chain's block log in etcd: append-if-height, catch up, watch,
                               the block cutter's election
    ledger.cluster.node        one peer as a service (`edgeacc node CONFIG`)
    ledger.cluster.validators  the application validators a chain's nodes run, by name (fixed registry)
    ledger.cluster.client      ledger.connect(): the client SDK, a ledger.api.Ledger
    ledger.cluster.remote      a chain's reads for ledger.verifier.Verifier (Protocol 1 remotely)
    ledger.cluster.local       `edgeacc cluster up/down DIR`: etcd and every peer on loopback
    ledger.cluster.commands    the console commands ca, node, cluster
"""
