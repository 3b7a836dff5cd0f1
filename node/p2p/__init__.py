"""The consortium network on py-libp2p: Noise-only channels, yamux, member-only peers, framed messages."""
