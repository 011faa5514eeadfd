"""The web server sends each reply at once: Nagle's algorithm off on its connections (issue 13).

Streamlit 1.67 serves the app through uvicorn on a listening socket that it binds itself, made as
``socket.socket(family)``: protocol 0. asyncio turns Nagle's algorithm off (``TCP_NODELAY``) only on
sockets whose protocol reads ``IPPROTO_TCP``, so every connection this server accepts keeps it on.
A reply written in two parts (its headers, then its body) then holds the second part back until the
browser acknowledges the first, and a browser delays that acknowledgement by 40 ms: every request
after the first on a kept-alive connection took 44 ms instead of 2 ms here. A new visitor's browser
fetches Streamlit's 60 scripts over 6 such connections, about ten each: some 0.4 s lost before the
page could open, and a page's messages on its websocket were held back the same way.

Linux copies ``TCP_NODELAY`` from a listening socket to each connection it accepts, so turning it on
once, for the server's listening socket and the connections already open, covers every connection
that follows. The server's sockets are found in ``/proc``: this process's TCP sockets listening, and
those whose local port is one of theirs (the connections the server accepted). Elsewhere (no
``/proc``) nothing changes.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

PROC = Path("/proc/self")
LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket (include/net/tcp_states.h)


def send_replies_at_once(proc: Path = PROC) -> int:
    """Turn Nagle's algorithm off on this process's listening TCP sockets and the connections they
    accepted; returns how many sockets were changed (0 where there is no ``/proc``)."""
    fds = _socket_fds(proc)  # fd -> inode, this process's sockets
    table = _tcp_sockets(proc)  # inode -> (local port, state), every TCP socket of the namespace
    listeners = {inode for inode in fds.values() if table.get(inode, ("", ""))[1] == LISTEN}
    changed = sum(_no_delay(fd, inode) for fd, inode in fds.items() if inode in listeners)
    # The connections, read after the listeners changed: one accepted in between is among them.
    ports = {table[inode][0] for inode in listeners}
    fds, table = _socket_fds(proc), _tcp_sockets(proc)
    accepted = {
        inode for inode in fds.values() if inode not in listeners and table.get(inode, ("", ""))[0] in ports
    }
    return changed + sum(_no_delay(fd, inode) for fd, inode in fds.items() if inode in accepted)


def _socket_fds(proc: Path) -> dict[int, int]:
    """This process's file descriptors that are sockets: fd -> the socket's inode."""
    found = {}
    try:
        names = os.listdir(proc / "fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(proc / "fd" / name)  # "socket:[12345]" for a socket
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            found[int(name)] = int(target[len("socket:[") : -1])
    return found


def _tcp_sockets(proc: Path) -> dict[int, tuple[int, str]]:
    """Every TCP socket of this network namespace (IPv4 and IPv6): inode -> (local port, state)."""
    found = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            found[inode] = (int(local.rsplit(":", 1)[1], 16), state)
    return found


def _no_delay(fd: int, inode: int) -> bool:
    """Set TCP_NODELAY on the socket ``inode`` behind ``fd`` (through a duplicate, closed after);
    whether it was off and is now on. An ``fd`` closed and reused for something else meanwhile is
    left alone."""
    try:
        copy = os.dup(fd)
    except OSError:  # closed meanwhile
        return False
    try:
        if os.fstat(copy).st_ino != inode:  # reused meanwhile
            os.close(copy)
            return False
        sock = socket.socket(fileno=copy)
    except OSError:
        os.close(copy)
        return False
    with sock:
        try:
            if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
                return False
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # reused for a socket that is not TCP
            return False
        return True
