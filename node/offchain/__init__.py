"""The custodian data service: raw records stay with the center that holds them.

* :mod:`node.offchain.standard` — the unified data standard (JSON Schemas in ``schemas/``), validation and
  canonical bytes;
* :mod:`node.offchain.store` — raw records in the node's LevelDB, encrypted at rest with SM4-GCM;
* :mod:`node.offchain.custodian` — ingest (anchor single records or Merkle batches), and serve a record to a
  grantee only under a live on-chain grant, in an SM2 envelope, logging the access (or the refusal) on chain.
"""
