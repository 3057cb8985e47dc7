"""Numbers from the BGP RFCs: message types, attribute codes, capability codes."""

from __future__ import annotations

from typing import Final

MARKER: Final = b"\xff" * 16
HEADER_LEN: Final = 19
MAX_MESSAGE_LEN: Final = 4096
MAX_EXTENDED_MESSAGE_LEN: Final = 65535  # RFC 8654
BGP_VERSION: Final = 4
AS_TRANS: Final = 23456  # RFC 6793

# Message types
OPEN: Final = 1
UPDATE: Final = 2
NOTIFICATION: Final = 3
KEEPALIVE: Final = 4
ROUTE_REFRESH: Final = 5

MESSAGE_NAMES: Final = {
    OPEN: "OPEN",
    UPDATE: "UPDATE",
    NOTIFICATION: "NOTIFICATION",
    KEEPALIVE: "KEEPALIVE",
    ROUTE_REFRESH: "ROUTE-REFRESH",
}

# Minimum (and for some, exact) lengths per type, header included.
MIN_LENGTH: Final = {OPEN: 29, UPDATE: 23, NOTIFICATION: 21, KEEPALIVE: 19, ROUTE_REFRESH: 23}

# Path attribute flags
FLAG_OPTIONAL: Final = 0x80
FLAG_TRANSITIVE: Final = 0x40
FLAG_PARTIAL: Final = 0x20
FLAG_EXTENDED: Final = 0x10

# Path attribute type codes
ORIGIN: Final = 1
AS_PATH: Final = 2
NEXT_HOP: Final = 3
MULTI_EXIT_DISC: Final = 4
LOCAL_PREF: Final = 5
ATOMIC_AGGREGATE: Final = 6
AGGREGATOR: Final = 7
COMMUNITIES: Final = 8
ORIGINATOR_ID: Final = 9
CLUSTER_LIST: Final = 10
MP_REACH_NLRI: Final = 14
MP_UNREACH_NLRI: Final = 15
EXTENDED_COMMUNITIES: Final = 16
AS4_PATH: Final = 17
AS4_AGGREGATOR: Final = 18
LARGE_COMMUNITY: Final = 32

ATTR_NAMES: Final = {
    ORIGIN: "origin",
    AS_PATH: "as_path",
    NEXT_HOP: "next_hop",
    MULTI_EXIT_DISC: "med",
    LOCAL_PREF: "local_pref",
    ATOMIC_AGGREGATE: "atomic_aggregate",
    AGGREGATOR: "aggregator",
    COMMUNITIES: "communities",
    ORIGINATOR_ID: "originator_id",
    CLUSTER_LIST: "cluster_list",
    MP_REACH_NLRI: "mp_reach_nlri",
    MP_UNREACH_NLRI: "mp_unreach_nlri",
    EXTENDED_COMMUNITIES: "extended_communities",
    AS4_PATH: "as4_path",
    AS4_AGGREGATOR: "as4_aggregator",
    LARGE_COMMUNITY: "large_communities",
}

# The flags (optional, transitive) each known attribute must carry; Partial and
# Extended Length are not part of the check.
WELL_KNOWN: Final = frozenset({ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF, ATOMIC_AGGREGATE})
EXPECTED_FLAGS: Final = {
    ORIGIN: FLAG_TRANSITIVE,
    AS_PATH: FLAG_TRANSITIVE,
    NEXT_HOP: FLAG_TRANSITIVE,
    MULTI_EXIT_DISC: FLAG_OPTIONAL,
    LOCAL_PREF: FLAG_TRANSITIVE,
    ATOMIC_AGGREGATE: FLAG_TRANSITIVE,
    AGGREGATOR: FLAG_OPTIONAL | FLAG_TRANSITIVE,
    COMMUNITIES: FLAG_OPTIONAL | FLAG_TRANSITIVE,
    ORIGINATOR_ID: FLAG_OPTIONAL,
    CLUSTER_LIST: FLAG_OPTIONAL,
    MP_REACH_NLRI: FLAG_OPTIONAL,
    MP_UNREACH_NLRI: FLAG_OPTIONAL,
    EXTENDED_COMMUNITIES: FLAG_OPTIONAL | FLAG_TRANSITIVE,
    AS4_PATH: FLAG_OPTIONAL | FLAG_TRANSITIVE,
    AS4_AGGREGATOR: FLAG_OPTIONAL | FLAG_TRANSITIVE,
    LARGE_COMMUNITY: FLAG_OPTIONAL | FLAG_TRANSITIVE,
}

# ORIGIN values
ORIGIN_IGP: Final = 0
ORIGIN_EGP: Final = 1
ORIGIN_INCOMPLETE: Final = 2

# AS_PATH segment types
AS_SET: Final = 1
AS_SEQUENCE: Final = 2
AS_CONFED_SEQUENCE: Final = 3
AS_CONFED_SET: Final = 4

# Capability codes
CAP_MULTIPROTOCOL: Final = 1
CAP_ROUTE_REFRESH: Final = 2
CAP_EXTENDED_NEXT_HOP: Final = 5
CAP_EXTENDED_MESSAGE: Final = 6
CAP_ROLE: Final = 9
CAP_GRACEFUL_RESTART: Final = 64
CAP_FOUR_OCTET_AS: Final = 65
CAP_ADD_PATH: Final = 69
CAP_ENHANCED_ROUTE_REFRESH: Final = 70
CAP_LONG_LIVED_GR: Final = 71
CAP_FQDN: Final = 73

# OPEN optional parameter types
PARAM_CAPABILITIES: Final = 2
PARAM_EXTENDED_LENGTH: Final = 255  # RFC 9072

# ROUTE-REFRESH subtypes (RFC 7313)
REFRESH_NORMAL: Final = 0
REFRESH_BORR: Final = 1
REFRESH_EORR: Final = 2

# Well-known communities
COMMUNITY_GRACEFUL_SHUTDOWN: Final = 0xFFFF0000
COMMUNITY_LLGR_STALE: Final = 0xFFFF0006
COMMUNITY_NO_LLGR: Final = 0xFFFF0007
COMMUNITY_NO_EXPORT: Final = 0xFFFFFF01
COMMUNITY_NO_ADVERTISE: Final = 0xFFFFFF02
COMMUNITY_NO_EXPORT_SUBCONFED: Final = 0xFFFFFF03
