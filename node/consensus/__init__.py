"""BFT consensus: Tendermint's algorithm as a sans-IO state machine, block sync, WAL, simulator.

Nothing in this package does I/O except :class:`wal.FileWal`; the node feeds
events (:mod:`events`) and carries out the actions it gets back.
"""
