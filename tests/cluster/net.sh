# Network namespaces for tests/cluster/run.sh (sourced, POSIX sh, root only).
#
# A run RID gets, all named tgc<RID>…, so that a later run can tell its own
# leftovers from another's and remove those whose owner is dead:
#   tgc<RID>s, …t      a veth pair in the root namespace; s holds the service
#                      address 10.A.0.1/32 (Redis, the simulators). (A veth, not a
#                      dummy: not every kernel has the dummy module.)
#   tgc<RID>n<i>       node i's namespace, with lo and one end of a veth pair:
#   tgc<RID>h<i>       the root end, 10.A.i.1/30
#   tgc<RID>p<i>       the node's end, 10.A.i.2/30, default route via 10.A.i.1
# A is picked so that 10.A.0.0/16 is unused here. Traffic between a node and
# the service address is delivered locally by the root namespace: no
# forwarding, no NAT, nothing changed outside these names.

# Pick A: the first 10.A.0.0/16 (A from 100 + RID % 100 on) no address or route here uses.
tgc_pick_net() { # rid
	_a=$((100 + $1 % 100))
	_tries=0
	while ip -4 addr show | grep -q "inet 10\.$_a\." || ip -4 route show | grep -q "^10\.$_a\."; do
		_a=$((_a + 1))
		[ "$_a" -le 254 ] || _a=100
		_tries=$((_tries + 1))
		[ "$_tries" -lt 155 ] || return 1
	done
	echo "$_a"
}

# The service interface and address.
tgc_net_up() { # rid a
	ip link add "tgc$1s" type veth peer name "tgc$1t"
	ip addr add "10.$2.0.1/32" dev "tgc$1s"
	ip link set "tgc$1t" up
	ip link set "tgc$1s" up
}

# Node i's namespace and veth pair.
tgc_node_net_up() { # rid a i
	_ns=tgc$1n$3
	ip netns add "$_ns"
	ip link add "tgc$1h$3" type veth peer name "tgc$1p$3"
	ip link set "tgc$1p$3" netns "$_ns"
	ip addr add "10.$2.$3.1/30" dev "tgc$1h$3"
	ip link set "tgc$1h$3" up
	ip netns exec "$_ns" ip link set lo up
	ip netns exec "$_ns" ip addr add "10.$2.$3.2/30" dev "tgc$1p$3"
	ip netns exec "$_ns" ip link set "tgc$1p$3" up
	ip netns exec "$_ns" ip route add default via "10.$2.$3.1"
}

# Kill every process in node i's namespace (its whole node: master, workers, logger).
tgc_node_kill() { # rid i signal
	for _p in $(ip netns pids "tgc$1n$2" 2>/dev/null); do
		kill "-$3" "$_p" 2>/dev/null || true
	done
}

# Everything of run rid: processes in its namespaces, the namespaces, the links.
tgc_net_down() { # rid
	for _ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^tgc$1n[0-9]*$" || true); do
		for _p in $(ip netns pids "$_ns" 2>/dev/null); do
			kill -9 "$_p" 2>/dev/null || true
		done
		ip netns del "$_ns" 2>/dev/null || true
	done
	for _l in $(ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' |
		    grep "^tgc$1[shpt][0-9]*$" || true); do
		ip link del "$_l" 2>/dev/null || true
	done
}

# What other runs left behind: namespaces and links tgc<RID>… whose RID is no live process.
tgc_net_sweep() {
	for _rid in $( (ip netns list 2>/dev/null | awk '{ print $1 }'
			ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//') |
		       sed -n 's/^tgc\([0-9][0-9]*\)[nshpt][0-9]*$/\1/p' | sort -u); do
		kill -0 "$_rid" 2>/dev/null || tgc_net_down "$_rid"
	done
}

# Whether anything of run rid is left (for the final check).
tgc_net_left() { # rid
	(ip netns list 2>/dev/null | awk '{ print $1 }'
	 ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//') |
		grep -q "^tgc$1[nshpt][0-9]*$"
}
