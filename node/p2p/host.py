"""A libp2p host that talks only to consortium members.

* Identity: the center's Ed25519 key from its keystore (peer ID as in genesis).
* Security: **Noise only**. libp2p 0.8.1's default also offers plaintext, with
  which a stranger can claim any member's peer ID (see NOTES.md); we pass our
  own ``sec_opt`` so Noise is the only option. Muxer: yamux (mplex deadlocks).
* Membership: a connection from a peer ID outside the member list is closed as
  soon as it is up, and every stream handler checks the remote peer ID before
  reading a byte, so a stranger can neither stay connected nor inject a message.
* Messages: ``u32 length ‖ payload`` frames with a size limit and a read
  deadline; one-way messages flow on a long-lived stream per peer and protocol,
  a request/response opens its own stream and reads one framed answer. A peer that
  sends malformed frames is scored down and disconnected after a few.

Everything here runs under trio, in the node's network thread.
"""

from __future__ import annotations

import logging
import struct
from collections import defaultdict
from typing import Awaitable, Callable, Mapping

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import YamuxStream

from node.crypto.peer_id import P2PIdentity
from node.errors import YilianError
from node.p2p.faults import Faults

log = logging.getLogger("yilian.p2p")


async def _return_credit_at_half_window(self: YamuxStream, *, bytes_read: int = 0) -> None:
    """Receive-window credit returned as go-yamux does (``GrowTo``): once the reader has consumed half the window,
    in one WINDOW_UPDATE (py-libp2p's window auto-tuning kept). py-libp2p 0.8.1 instead answers nearly every read of a
    small message with a WINDOW_UPDATE of its own — its "partial slack" branch, which ``PY_YAMUX_RELEASE_ON_READ=0``
    does not turn off — so each consensus message cost a second encrypted frame back, written by the receiver and
    parsed by the sender (one-way 150-byte messages in one process: ~25 % of their CPU)."""
    half = max(1, self.target_recv_window // 2)
    buffers = self.conn.stream_buffers
    if self.target_recv_window - (self.recv_window + len(buffers.get(self.stream_id, b""))) < half:
        return  # the common case, decided without the lock (nothing is awaited between reading the window and this)
    async with self.window_lock:
        buffered = len(buffers.get(self.stream_id, b""))
        if self.target_recv_window - (self.recv_window + buffered) < half:
            return  # (another reader of the stream returned it meanwhile)
        total = self._grow_to_delta(buffered) + self._apply_autotune_epoch(buffered)
    await self.send_window_update(total, skip_lock=True)


if not all(hasattr(YamuxStream, name) for name in ("_auto_tune_and_send_window_update", "_grow_to_delta", "_apply_autotune_epoch")):
    raise ImportError("this py-libp2p's yamux is not the one node.p2p.host adapts (libp2p==0.8.1, see pyproject.toml)")
YamuxStream._auto_tune_and_send_window_update = _return_credit_at_half_window  # type: ignore[method-assign]

CONSENSUS = TProtocol("/yilian/consensus/1")
TX = TProtocol("/yilian/tx/1")
SYNC = TProtocol("/yilian/sync/1")
DATA = TProtocol("/yilian/data/1")
PROTOCOLS = (CONSENSUS, TX, SYNC, DATA)

MAX_FRAME = 8 * 1024 * 1024
READ_TIMEOUT_S = 10.0
MAX_STRIKES = 3
_LENGTH = struct.Struct(">I")

Handler = Callable[[str, bytes], Awaitable[bytes | None]]
TRAFFIC = {"in": 0, "out": 0}  # frame bytes of this process, for the node's metrics


class FrameError(Exception):
    """A peer sent something that is not a valid frame."""


class StreamEnded(Exception):
    """The peer closed the stream cleanly between two frames."""


class FrameReader:
    """Reads ``u32 length ‖ payload`` frames from a stream through a buffer: one stream read usually brings a
    whole frame, often several (each read through libp2p's yamux costs far more than the bytes it returns)."""

    CHUNK = 64 * 1024

    def __init__(self, stream: INetStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def _fill(self, size: int, *, at_boundary: bool) -> None:
        while len(self.buffer) < size:
            try:
                chunk = await self.stream.read(max(self.CHUNK, size - len(self.buffer)))
            except Exception as exc:  # libp2p raises its own errors for a closed or reset stream
                if at_boundary and not self.buffer:
                    raise StreamEnded() from None
                raise FrameError(f"stream failed after {len(self.buffer)} of {size} bytes: {exc}") from None
            if not chunk:
                if at_boundary and not self.buffer:
                    raise StreamEnded()
                raise FrameError(f"stream ended after {len(self.buffer)} of {size} bytes")
            self.buffer += chunk

    async def frame(self, limit: int = MAX_FRAME, *, wait: bool = False) -> bytes:
        """One frame; with ``wait`` the header may take any time (an idle long-lived stream), the rest must not."""
        if wait:
            await self._fill(_LENGTH.size, at_boundary=True)
        else:
            with trio.fail_after(READ_TIMEOUT_S):
                await self._fill(_LENGTH.size, at_boundary=True)
        (length,) = _LENGTH.unpack_from(self.buffer)
        if length > limit:
            raise FrameError(f"frame of {length} bytes exceeds the limit of {limit}")
        if len(self.buffer) < _LENGTH.size + length:  # (usually the read that brought the header brought it all)
            with trio.fail_after(READ_TIMEOUT_S):
                await self._fill(_LENGTH.size + length, at_boundary=False)
        payload = bytes(self.buffer[_LENGTH.size:_LENGTH.size + length])
        del self.buffer[:_LENGTH.size + length]
        TRAFFIC["in"] += _LENGTH.size + length
        return payload


async def read_frame(stream: INetStream, limit: int = MAX_FRAME, *, wait: bool = False) -> bytes:
    """One frame from a stream that carries no more (a request's answer)."""
    return await FrameReader(stream).frame(limit, wait=wait)


def frame(payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME:
        raise ValueError(f"message of {len(payload)} bytes exceeds the limit of {MAX_FRAME}")
    TRAFFIC["out"] += _LENGTH.size + len(payload)
    return _LENGTH.pack(len(payload)) + payload


async def resolve(address: str) -> str:
    """``/dns4/host/tcp/9600/…`` → ``/ip4/1.2.3.4/tcp/9600/…`` (IPv4 lookup in a worker thread)."""
    parts = address.split("/")
    if len(parts) > 2 and parts[1] in ("dns", "dns4"):
        import socket

        infos = await trio.to_thread.run_sync(lambda: socket.getaddrinfo(parts[2], None, socket.AF_INET, socket.SOCK_STREAM))
        if not infos:
            raise OSError(f"cannot resolve {parts[2]}")
        parts[1], parts[2] = "ip4", infos[0][4][0]
    return "/".join(parts)


class _MemberGate(INotifee):
    def __init__(self, host: "MemberHost") -> None:
        self.host = host

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id.to_base58()
        if peer not in self.host.members:
            self.host.refused += 1
            log.warning("refused a connection from %s: not a consortium member", peer)
            await conn.close()
        else:
            self.host.connected.add(peer)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id.to_base58()
        self.host.connected.discard(peer)
        for key in [k for k in self.host._outbound if k[0] == peer]:
            self.host._outbound.pop(key, None)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass


class MemberHost:
    """libp2p host with member gating, framed one-shot messages and request/response."""

    def __init__(self, identity: P2PIdentity, members: Mapping[str, str], listen: tuple[str, int],
                 peers: Mapping[str, str] | None = None) -> None:
        """``members``: peer ID → member name; ``peers``: peer ID → multiaddr to dial (the others dial us)."""
        self.identity = identity
        self.members = dict(members)
        self.listen_addr = multiaddr.Multiaddr(f"/ip4/{listen[0]}/tcp/{listen[1]}")
        self.peers = dict(peers or {})
        key_pair = create_new_key_pair(identity.seed)
        noise = NoiseTransport(key_pair, noise_privkey=create_new_x25519_key_pair().private_key)
        self.host = new_host(key_pair=key_pair, sec_opt={NOISE_PROTOCOL_ID: noise}, muxer_preference="YAMUX",
                             listen_addrs=[self.listen_addr])
        self.handlers: dict[str, Handler] = {}
        self.connected: set[str] = set()
        self.strikes: dict[str, int] = defaultdict(int)
        self.refused = 0
        self.cut_off = 0  # disconnections for bad messages
        self._outbound: dict[tuple[str, str], INetStream] = {}
        self._locks: dict[tuple[str, str], trio.Lock] = defaultdict(trio.Lock)
        self.faults = Faults.from_environment()  # drills and tests only: see node.p2p.faults
        self.host.get_network().register_notifee(_MemberGate(self))

    def handle(self, protocol: TProtocol, handler: Handler) -> None:
        """``handler(peer_id, payload)`` answers requests (bytes) or returns None for one-way messages."""
        self.handlers[protocol] = handler

        async def serve(stream: INetStream) -> None:
            peer = stream.muxed_conn.peer_id.to_base58()
            if peer not in self.members:
                self.refused += 1
                await stream.reset()
                return
            try:
                # one-way messages arrive as a sequence of frames on a long-lived stream; a request
                # is one frame answered on the same stream, which then closes
                reader = FrameReader(stream)
                while True:
                    payload = await reader.frame(wait=True)
                    if self.faults.drops(peer):
                        continue
                    answer = await handler(peer, payload)
                    if answer is not None:
                        await stream.write(frame(answer))
                        await stream.close()
                        return
            except StreamEnded:
                await stream.close()
            except (FrameError, trio.TooSlowError, YilianError, ValueError) as exc:  # malformed or invalid content
                await self.strike(peer, f"{protocol}: {exc}")
                await stream.reset()
            except Exception as exc:  # a peer's bad message must never take the node down
                log.warning("error handling %s from %s: %s", protocol, self.members.get(peer, peer), exc)
                await stream.reset()

        self.host.set_stream_handler(protocol, serve)

    async def strike(self, peer: str, reason: str) -> None:
        self.strikes[peer] += 1
        log.warning("peer %s sent a bad message (%s); strike %d of %d", self.members.get(peer, peer), reason,
                    self.strikes[peer], MAX_STRIKES)
        if self.strikes[peer] >= MAX_STRIKES:
            self.strikes[peer] = 0
            log.warning("disconnecting %s after %d bad messages", self.members.get(peer, peer), MAX_STRIKES)
            self.cut_off += 1
            await self.host.disconnect(ID.from_base58(peer))

    async def send(self, peer: str, protocol: TProtocol, payload: bytes | list[bytes], *, expect_answer: bool = False) -> bytes | None:
        """Send one framed message to ``peer`` (or several one-way messages, in one write); with ``expect_answer``
        read one framed answer.

        One-way messages share a long-lived stream per (peer, protocol) — opening a stream costs a
        protocol negotiation (~3.6 ms per message measured) — and a failed stream is replaced once.
        A request opens its own stream.
        """
        if self.faults.drops(peer):
            if expect_answer:
                raise trio.TooSlowError(f"no answer from {peer} (messages to it are dropped by the fault file)")
            return None
        if not expect_answer:
            key = (peer, protocol)
            data = b"".join(frame(one) for one in payload) if isinstance(payload, list) else frame(payload)
            async with self._locks[key]:
                for attempt in (1, 2):
                    stream = self._outbound.get(key)
                    if stream is None:
                        stream = await self.host.new_stream(ID.from_base58(peer), [protocol])
                        self._outbound[key] = stream
                    try:
                        await stream.write(data)
                        return None
                    except Exception:
                        self._outbound.pop(key, None)
                        try:
                            await stream.reset()
                        except Exception:
                            pass
                        if attempt == 2:
                            raise
            return None
        if isinstance(payload, list):
            raise ValueError("a request is one message")
        stream = await self.host.new_stream(ID.from_base58(peer), [protocol])
        try:
            await stream.write(frame(payload))
            answer = await read_frame(stream)
            await stream.close()
            return answer
        except BaseException:
            await stream.reset()
            raise

    async def dial_forever(self, peer: str, address: str) -> None:
        """Keep a connection to ``peer``: dial, and redial with capped backoff when it drops.

        ``/dns4/<name>/…`` and ``/dns/<name>/…`` addresses are resolved here before
        every dial (libp2p 0.8.1 does not dial them itself), so a center may move
        to a new IP address without a config change.
        """
        delay = 0.2
        while True:
            if peer not in self.connected:
                try:
                    resolved = await resolve(address)
                    await self.host.connect(PeerInfo(ID.from_base58(peer), [multiaddr.Multiaddr(resolved)]))
                    delay = 0.2
                except Exception as exc:
                    log.info("cannot reach %s at %s (%s); retrying in %.1f s", self.members.get(peer, peer), address, exc, delay)
                    unblock = getattr(self.host.get_network(), "unblock_peer", None)
                    if unblock is not None:
                        try:
                            unblock(ID.from_base58(peer))
                        except Exception:
                            pass
                    delay = min(delay * 2, 5.0)
            await trio.sleep(delay)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
        async with self.host.run(listen_addrs=[self.listen_addr]):
            async with trio.open_nursery() as nursery:
                for peer, address in self.peers.items():
                    nursery.start_soon(self.dial_forever, peer, address)
                task_status.started()
                await trio.sleep_forever()
