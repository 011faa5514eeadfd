"""The web server's connections send each reply at once (``nnlab.ui.web_server``, issue 13).

Streamlit binds its listening socket itself and asyncio then leaves Nagle's algorithm on for every
connection accepted from it: a reply's second write waits for the browser's delayed acknowledgement
(40 ms per request on a kept-alive connection). These tests serve from a listening socket bound by
Streamlit's own function, through an asyncio server as uvicorn runs one, and read each socket's
``TCP_NODELAY``.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from streamlit.web.server.starlette.starlette_server import _bind_socket

from nnlab.ui.web_server import send_replies_at_once


def _no_delay(sock) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


class _Server:
    """An asyncio server on ``listener`` (as uvicorn serves Streamlit): the connections it accepted."""

    def __init__(self, listener: socket.socket):
        self.listener = listener
        self.accepted: list[socket.socket] = []

    async def __aenter__(self):
        def connected(reader, writer):
            self.accepted.append(writer.get_extra_info("socket"))

        self.server = await asyncio.start_server(connected, sock=self.listener)
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def connect(self) -> tuple[socket.socket, socket.socket]:
        """A browser's connection (a plain socket, as Python makes one: Nagle on), once the server
        has accepted it: (the server's side, the browser's side)."""
        n = len(self.accepted)
        client = socket.create_connection(("127.0.0.1", self.listener.getsockname()[1]))
        while len(self.accepted) == n:
            await asyncio.sleep(0.01)
        return self.accepted[-1], client


def _ipv6() -> bool:
    try:
        socket.socket(socket.AF_INET6).close()
        return True
    except OSError:
        return False


# Streamlit binds "::" (both IPv4 and IPv6, /proc/net/tcp6) unless told an address (/proc/net/tcp).
@pytest.mark.parametrize(
    "address", ["127.0.0.1", pytest.param("::", marks=pytest.mark.skipif(not _ipv6(), reason="no IPv6"))]
)
def test_the_servers_connections_open_and_later_send_at_once(address):
    async def scenario():
        listener = _bind_socket(address, 0, 16)
        async with _Server(listener) as server:
            before, browser = await server.connect()  # a visitor's, before the first page run
            assert not _no_delay(browser)
            assert not _no_delay(before)  # Streamlit's server left Nagle on (the reason for all this)

            assert send_replies_at_once() >= 2  # the listener and the connection open

            after, later_browser = await server.connect()  # a later visitor
            assert _no_delay(listener) and _no_delay(before) and _no_delay(after)
            # A connection's other end is no socket of the server's (its port listens nowhere).
            assert not _no_delay(browser) and not _no_delay(later_browser)
            assert send_replies_at_once() == 0  # nothing left to change
            browser.close()
            later_browser.close()
        listener.close()

    # A thread of its own: the browser tests' Playwright may leave an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, scenario()).result()


def test_without_a_proc_folder_nothing_changes(tmp_path):
    assert send_replies_at_once(tmp_path / "no-proc") == 0
