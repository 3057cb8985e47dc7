"""Linux socket options for BGP: TCP-MD5 (RFC 2385) and GTSM (RFC 5082)."""

from __future__ import annotations

import ipaddress
import socket
import struct

TCP_MD5SIG = 14  # linux/tcp.h
TCP_MD5SIG_EXT = 32  # linux/tcp.h: struct tcp_md5sig with flags (Linux 4.13)
TCP_MD5SIG_FLAG_PREFIX = 1
TCP_MD5SIG_MAXKEYLEN = 80
IP_MINTTL = 21  # linux/in.h
IPV6_MINHOPCOUNT = 73  # linux/in6.h


def _sockaddr_storage(address: str, port: int = 0) -> bytes:
    """A struct sockaddr_storage (128 octets) holding the peer's address."""
    addr = ipaddress.ip_address(address)
    if addr.version == 4:
        raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + addr.packed
    else:
        raw = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + addr.packed + struct.pack("=I", 0)
    return raw.ljust(128, b"\0")


def md5sig(address: str, key: str | None, prefixlen: int | None = None) -> bytes:
    """struct tcp_md5sig for a peer address (or, with ``prefixlen``, every address of a
    prefix); an empty key removes the signature."""
    secret = (key or "").encode()
    if len(secret) > TCP_MD5SIG_MAXKEYLEN:
        raise ValueError(f"TCP-MD5 key longer than {TCP_MD5SIG_MAXKEYLEN} octets")
    flags = 0 if prefixlen is None else TCP_MD5SIG_FLAG_PREFIX
    # sockaddr_storage, u8 flags, u8 prefixlen, u16 keylen, u32 ifindex, u8 key[80]
    head = struct.pack("=BBHI", flags, prefixlen or 0, len(secret), 0)
    return _sockaddr_storage(address) + head + secret.ljust(80, b"\0")


def set_md5(sock: socket.socket, peer: str, key: str | None) -> None:
    """Sign (and require signatures on) every segment to and from ``peer``. On a listening
    socket this sets the key for connections accepted from that peer."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, key))


def set_md5_prefix(sock: socket.socket, network: str, key: str | None) -> None:
    """TCP-MD5 for every peer in ``network`` (a listening socket and dynamic neighbors)."""
    net = ipaddress.ip_network(network)
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG_EXT, md5sig(str(net.network_address), key, net.prefixlen))


def set_ttl_security(sock: socket.socket, family: int, hops: int) -> None:
    """GTSM: send with TTL 255, accept only packets with TTL >= 256 - hops."""
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, 256 - hops)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, 256 - hops)
