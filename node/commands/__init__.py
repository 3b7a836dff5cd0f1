"""Sub-commands of ``yilian``: one module per command, each exposing ``command``."""
