"""Where a webhook may point: public addresses only, unless the office lets webhooks reach its
own network (``WANGGE_INTAKE_WEBHOOK_PRIVATE_ADDRESSES``), so that an integration cannot make
intake call the office's loopback, private network or a cloud's metadata address."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

NOT_PUBLIC = "its address is not a public one (loopback, private network, link-local…)"


async def resolves_to_public(url: str) -> bool:
    """Whether every address ``url``'s host resolves to is a public (global) one; OSError when
    it resolves to none."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        return is_public(ipaddress.ip_address(host))
    except ValueError:
        pass  # a name
    # A name that does not resolve raises OSError: not called on the word of a second look-up
    # (a name server may fail the check's once and answer a private address to the POST's).
    found = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
    return all(is_public(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in found)


def names_a_private_address(url: str) -> bool:
    """Whether ``url``'s host is, as written, an address that is not public (``10.0.0.5``,
    ``[::1]``, or an IPv4 address in a form the resolver reads too: ``127.1``, ``2130706433``,
    ``0x7f.1``) or ``localhost``: known without a look-up, so refused when the webhook is set."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return not is_public(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:  # inet_aton's forms: getaddrinfo, and so the delivery, reads 127.1 as 127.0.0.1
        return not is_public(ipaddress.IPv4Address(socket.inet_aton(host)))
    except (OSError, ValueError):
        return False  # a name: looked up at each delivery


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public address, and so is any IPv4 address an IPv6 one carries (mapped, 6to4, NAT64,
    compatible): ``::ffff:10.0.0.1`` or ``64:ff9b::a00:1`` reach a private network too."""
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and (address in _NAT64 or int(address) >> 32 == 0):
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None and not carried.is_global:
            return False
    return True
