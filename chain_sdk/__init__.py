"""YiLian Chain Python SDK.

The SDK talks to nodes over HTTP/JSON-RPC and shares only the documented wire
formats with them: it never imports the ``node`` package, so it installs and
runs without the node's heavy dependencies. Its client, wallet and role
modules arrive with the data-sharing release.
"""

__version__ = "0.1.0"
