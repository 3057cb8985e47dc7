"""Wrap a stream of raw BGP messages into a synthetic libpcap capture.

Each BGP message becomes exactly one Ethernet/IPv4/TCP packet (192.0.2.1:179 ->
192.0.2.2:50000, PSH|ACK, consecutive sequence numbers) so that a dissector such
as Wireshark's sees one whole message per TCP segment and never has to reassemble.
The addresses are documentation addresses (RFC 5737); the capture is only bytes in
a file, nothing is ever sent.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

BGP_MARKER = b"\xff" * 16
BGP_HEADER_LEN = 19

SRC_MAC = bytes.fromhex("020000000001")
DST_MAC = bytes.fromhex("020000000002")
SRC_IP = bytes([192, 0, 2, 1])
DST_IP = bytes([192, 0, 2, 2])
SRC_PORT = 179
DST_PORT = 50000
INITIAL_SEQ = 1_000_000
INITIAL_ACK = 2_000_000

PCAP_MAGIC = 0xA1B2C3D4  # classic libpcap, microsecond timestamps
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
# IPv4 total length is 16 bits: 20 (IP) + 20 (TCP) + payload.
MAX_PAYLOAD = 0xFFFF - 40


def split_messages(data: bytes) -> Iterator[bytes]:
    """Yield each raw BGP message (header included) of a concatenated stream.

    Only the framing is looked at (marker and length), never the body.
    """
    pos = 0
    total = len(data)
    while pos < total:
        if total - pos < BGP_HEADER_LEN:
            raise ValueError(f"truncated BGP header at offset {pos}")
        if data[pos : pos + 16] != BGP_MARKER:
            raise ValueError(f"bad BGP marker at offset {pos}")
        (length,) = struct.unpack_from("!H", data, pos + 16)
        if length < BGP_HEADER_LEN or pos + length > total:
            raise ValueError(f"bad BGP length {length} at offset {pos}")
        yield data[pos : pos + length]
        pos += length


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(payload: bytes, seq: int, ident: int) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"{len(payload)} bytes of BGP messages do not fit one IPv4 packet")
    tcp_no_csum = struct.pack(
        "!HHIIBBHHH",
        SRC_PORT,
        DST_PORT,
        seq & 0xFFFFFFFF,
        INITIAL_ACK,
        5 << 4,  # data offset: 5 words, no options
        0x18,  # PSH | ACK
        65535,  # window
        0,  # checksum placeholder
        0,  # urgent pointer
    )
    tcp_len = len(tcp_no_csum) + len(payload)
    pseudo = SRC_IP + DST_IP + struct.pack("!BBH", 0, 6, tcp_len)
    tcp_csum = _checksum(pseudo + tcp_no_csum + payload)
    tcp = tcp_no_csum[:16] + struct.pack("!H", tcp_csum) + tcp_no_csum[18:]

    ip_no_csum = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0xC0,  # DSCP CS6, as BGP speakers commonly use
        20 + tcp_len,
        ident & 0xFFFF,
        0x4000,  # DF
        64,
        6,  # TCP
        0,
        SRC_IP,
        DST_IP,
    )
    ip_csum = _checksum(ip_no_csum)
    ip = ip_no_csum[:10] + struct.pack("!H", ip_csum) + ip_no_csum[12:]

    eth = DST_MAC + SRC_MAC + b"\x08\x00"
    return eth + ip + tcp + payload


def build_frames(data: bytes, per_packet: int = 1) -> list[bytes]:
    """Ethernet frames carrying the BGP messages of the stream, in order:
    `per_packet` whole messages per TCP segment (the default: exactly one)."""
    if per_packet < 1:
        raise ValueError("per_packet must be at least 1")
    messages = list(split_messages(data))
    frames: list[bytes] = []
    seq = INITIAL_SEQ
    for start in range(0, len(messages), per_packet):
        payload = b"".join(messages[start : start + per_packet])
        frames.append(_frame(payload, seq, len(frames) + 1))
        seq += len(payload)
    return frames


def pcap_bytes(frames: list[bytes]) -> bytes:
    """A classic libpcap file (Ethernet link type) holding `frames`."""
    out = [struct.pack("=IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)]
    for index, frame in enumerate(frames):
        ts_sec, ts_msec = divmod(index, 1000)  # 1 ms apart, strictly increasing
        out.append(struct.pack("=IIII", 1_700_000_000 + ts_sec, ts_msec * 1000, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def write_pcap(data: bytes, path: str, per_packet: int = 1) -> int:
    """Write `data` (concatenated raw BGP messages) to a libpcap file, one message
    per Ethernet/IPv4/TCP packet (or `per_packet` whole messages per packet).
    Returns the number of packets written."""
    frames = build_frames(data, per_packet)
    with open(path, "wb") as fh:
        fh.write(pcap_bytes(frames))
    return len(frames)
