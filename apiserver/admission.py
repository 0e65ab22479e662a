"""Service ClusterIP and NodePort allocation, unique across every apiserver of the cluster.

Each allocated IP or port is a key in the store (`/registry/ranges/serviceips/<ip>`,
`/registry/ranges/servicenodeports/<port>`) created by a Txn that succeeds only if the key does
not exist yet: two apiservers can never hand out the same one, whatever the interleaving.
Allocation happens before the Service is written and is undone if the write fails; a delete
releases them. (An apiserver killed between the two leaks an allocation; Kubernetes runs a repair
loop for that, which Skiff does not have yet.)
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
from typing import AsyncIterator

from google.protobuf.message import Message

from apiserver import errors
from client.kinds import Kind
from store import client as sc

log = logging.getLogger(__name__)

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
NODE_PORT_RANGE = (30000, 32767)


class Allocator:
    def __init__(self, store: sc.StoreClient | None, cidr: str = "10.96.0.0/16",
                 node_ports: tuple[int, int] = NODE_PORT_RANGE, rng: random.Random | None = None):
        self.store = store
        self.net = ipaddress.ip_network(cidr, strict=False)
        self.node_ports = node_ports
        self.rng = rng or random.Random()

    # -- claims -------------------------------------------------------------------------------
    async def _claim(self, key: str, owner: str) -> bool:
        resp = await self.store.txn([sc.compare(key, "create", "==", 0)], [sc.op_put(key, owner)],
                                    retry_safe=True)
        if resp.succeeded:
            return True
        # A retried txn whose first attempt won also fails its compare: check who holds it.
        got = await self.store.get(key)
        return bool(got.kvs) and got.kvs[0].value == owner.encode()

    async def _unclaim(self, key: str, owner: str) -> None:
        await self.store.txn([sc.compare(key, "value", "==", owner)], [sc.op_delete(key)], retry_safe=True)

    async def _claim_ip(self, ip: str, owner: str) -> bool:
        return await self._claim(IP_PREFIX + ip, owner)

    async def _claim_port(self, port: int, owner: str) -> bool:
        return await self._claim(PORT_PREFIX + str(port), owner)

    async def _allocate_ip(self, owner: str) -> str:
        hosts = self.net.num_addresses - 2
        if hosts < 2:
            raise errors.Invalid(f"spec.clusterIP: the service IP range {self.net} is too small")
        start = self.rng.randrange(hosts)
        # Probe from a random offset: cheap while the range is mostly free, exhaustive when full.
        for i in range(hosts):
            off = (start + i) % hosts + 1
            ip = str(self.net.network_address + off)
            if off == 1:
                continue  # the first address is reserved, as Kubernetes keeps it for the kubernetes Service
            if await self._claim_ip(ip, owner):
                return ip
        raise errors.ApiError(f"Internal error occurred: failed to allocate a serviceIP: range is full ({self.net})")

    async def _allocate_port(self, owner: str) -> int:
        lo, hi = self.node_ports
        n = hi - lo + 1
        start = self.rng.randrange(n)
        for i in range(n):
            port = lo + (start + i) % n
            if await self._claim_port(port, owner):
                return port
        raise errors.ApiError("Internal error occurred: failed to allocate a nodePort: range is full")

    # -- services -----------------------------------------------------------------------------
    @staticmethod
    def _owner(obj: Message) -> str:
        return f"{obj.metadata.namespace}/{obj.metadata.name}/{obj.metadata.uid}"

    @staticmethod
    def _wants_node_ports(obj: Message) -> bool:
        return obj.spec.type in ("NodePort", "LoadBalancer")

    async def _allocate(self, obj: Message, old: Message | None, claimed: list[str]) -> None:
        owner = self._owner(old if old is not None else obj)
        spec = obj.spec
        if spec.type != "ExternalName" and old is None:
            if spec.cluster_ip and spec.cluster_ip != "None":
                try:
                    ip = ipaddress.ip_address(spec.cluster_ip)
                except ValueError:
                    raise errors.invalid("Service", "", obj.metadata.name, [(
                        "spec.clusterIP", f'Invalid value: "{spec.cluster_ip}": must be a valid IP address, '
                                          '(e.g. 10.9.8.7 or 2001:db8::ffff)')]) from None
                if ip not in self.net:
                    raise errors.invalid("Service", "", obj.metadata.name, [(
                        "spec.clusterIP", f'Invalid value: "{spec.cluster_ip}": provided IP is not in the valid '
                                          f"range. The range of valid IPs is {self.net}")])
                if not await self._claim_ip(str(ip), owner):
                    raise errors.invalid("Service", "", obj.metadata.name, [(
                        "spec.clusterIP", f'Invalid value: "{spec.cluster_ip}": provided IP is already allocated')])
                claimed.append(IP_PREFIX + str(ip))
            elif not spec.cluster_ip:
                spec.cluster_ip = await self._allocate_ip(owner)
                claimed.append(IP_PREFIX + spec.cluster_ip)
            if spec.cluster_ip and not spec.cluster_ips:
                spec.cluster_ips.append(spec.cluster_ip)
        if not self._wants_node_ports(obj):
            return
        held = {p.node_port for p in old.spec.ports if p.node_port} if old is not None else set()
        for i, p in enumerate(spec.ports):
            if p.node_port:
                if p.node_port in held:
                    continue
                lo, hi = self.node_ports
                if not lo <= p.node_port <= hi:
                    raise errors.invalid("Service", "", obj.metadata.name, [(
                        f"spec.ports[{i}].nodePort", f"Invalid value: {p.node_port}: provided port is not in the "
                                                     f"valid range. The range of valid ports is {lo}-{hi}")])
                if not await self._claim_port(p.node_port, owner):
                    raise errors.invalid("Service", "", obj.metadata.name, [(
                        f"spec.ports[{i}].nodePort", f"Invalid value: {p.node_port}: provided port is already "
                                                     "allocated")])
                claimed.append(PORT_PREFIX + str(p.node_port))
            else:
                p.node_port = await self._allocate_port(owner)
                claimed.append(PORT_PREFIX + str(p.node_port))

    def for_create(self, kind: Kind, obj: Message):
        """Allocates what `obj` needs; undoes it if the body (the store write) fails."""
        return self._claiming(kind, obj, None)

    def for_update(self, kind: Kind, new: Message, old: Message):
        """Allocates what `new` needs beyond `old`; after the write, releases what `old` had and
        `new` no longer uses."""
        return self._claiming(kind, new, old)

    @contextlib.asynccontextmanager
    async def _claiming(self, kind: Kind, obj: Message, old: Message | None) -> AsyncIterator[None]:
        if kind.resource != "services":
            yield
            return
        claimed: list[str] = []
        owner = self._owner(old if old is not None else obj)
        try:
            await self._allocate(obj, old, claimed)
            yield
        except BaseException:
            for key in claimed:
                await self._unclaim(key, owner)
            raise
        if old is None:
            return
        kept = {p.node_port for p in obj.spec.ports if p.node_port} if self._wants_node_ports(obj) else set()
        for p in old.spec.ports:
            if p.node_port and p.node_port not in kept:
                await self._unclaim(PORT_PREFIX + str(p.node_port), owner)

    async def release(self, kind: Kind, obj: Message) -> None:
        if kind.resource != "services":
            return
        owner = self._owner(obj)
        if obj.spec.cluster_ip and obj.spec.cluster_ip != "None":
            await self._unclaim(IP_PREFIX + obj.spec.cluster_ip, owner)
        for p in obj.spec.ports:
            if p.node_port:
                await self._unclaim(PORT_PREFIX + str(p.node_port), owner)
