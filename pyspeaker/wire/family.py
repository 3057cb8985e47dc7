"""Address families. A family is a key (AFI, SAFI), never a subclass.

Each family the codec understands has a :class:`FamilyCodec` that splits its NLRI into
wire-form prefixes and turns them into text. Later families (labelled, VPN, flowspec)
add a codec to :data:`CODECS`; the UPDATE decoder looks the family up once per
MP_REACH/MP_UNREACH attribute, never per prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

AFI_IPV4: Final = 1
AFI_IPV6: Final = 2
SAFI_UNICAST: Final = 1
SAFI_MULTICAST: Final = 2


class Family(NamedTuple):
    """(AFI, SAFI). A tuple, so hashing and comparing it, as every per-family dict does,
    costs no Python call."""

    afi: int
    safi: int

    @property
    def name(self) -> str:
        return _NAMES.get((self.afi, self.safi), f"afi{self.afi}-safi{self.safi}")

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Family({self.name})"

    @classmethod
    def from_name(cls, name: str) -> Family:
        for key, text in _NAMES.items():
            if text == name:
                return cls(*key)
        raise ValueError(f"unknown address family {name!r} (known: {', '.join(_NAMES.values())})")


_NAMES: Final = {
    (AFI_IPV4, SAFI_UNICAST): "ipv4-unicast",
    (AFI_IPV6, SAFI_UNICAST): "ipv6-unicast",
    (AFI_IPV4, SAFI_MULTICAST): "ipv4-multicast",
    (AFI_IPV6, SAFI_MULTICAST): "ipv6-multicast",
}

IPV4_UNICAST: Final = Family(AFI_IPV4, SAFI_UNICAST)
IPV6_UNICAST: Final = Family(AFI_IPV6, SAFI_UNICAST)


@dataclass(frozen=True, slots=True)
class FamilyCodec:
    """How one family's NLRI is laid out: for IP prefixes, the maximum prefix length."""

    family: Family
    max_bits: int
    address_len: int


CODECS: Final[dict[Family, FamilyCodec]] = {
    IPV4_UNICAST: FamilyCodec(IPV4_UNICAST, 32, 4),
    IPV6_UNICAST: FamilyCodec(IPV6_UNICAST, 128, 16),
    Family(AFI_IPV4, SAFI_MULTICAST): FamilyCodec(Family(AFI_IPV4, SAFI_MULTICAST), 32, 4),
    Family(AFI_IPV6, SAFI_MULTICAST): FamilyCodec(Family(AFI_IPV6, SAFI_MULTICAST), 128, 16),
}

# Interned Family objects for every known (AFI, SAFI), so the decoder does not build one
# per UPDATE.
BY_KEY: Final[dict[tuple[int, int], Family]] = {(f.afi, f.safi): f for f in CODECS}


def family(afi: int, safi: int) -> Family:
    return BY_KEY.get((afi, safi)) or Family(afi, safi)
