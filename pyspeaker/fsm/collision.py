"""Connection collision resolution (RFC 4271 6.8, RFC 6286 2.3).

A :class:`~pyspeaker.fsm.session.Session` drives one TCP connection. When the shell holds
two connections to the same peer (ours and theirs), it runs a Session for each; once the
peer's BGP identifier is known (an ``OpenReceived`` event) it asks :func:`resolve_collision`
which one to keep and calls ``collision_dump()`` on the other, which sends Cease /
Connection Collision Resolution and closes it.
"""

from __future__ import annotations

import ipaddress


def resolve_collision(local_id: str, remote_id: str, local_as: int | None = None, remote_as: int | None = None) -> bool:
    """True: keep the connection the local system initiated; False: keep the peer's.

    RFC 4271 6.8: the side with the higher BGP identifier keeps the connection it
    initiated. RFC 6286 2.3: with equal identifiers (possible on eBGP), the side with the
    larger AS number keeps the connection it initiated. Equal identifiers with no (or equal)
    AS numbers cannot be resolved (an iBGP peer with our identifier is refused at OPEN
    anyway); this then returns False.
    """
    ours = int(ipaddress.IPv4Address(local_id))
    theirs = int(ipaddress.IPv4Address(remote_id))
    if ours != theirs:
        return ours > theirs
    if local_as is not None and remote_as is not None:
        return local_as > remote_as
    return False
