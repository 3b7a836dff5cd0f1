"""The chain store on LevelDB: blocks, certificates, receipts, indexes, Merkle trees and proofs."""
