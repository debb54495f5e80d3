"""TLS over any byte stream, for `https://` health checks.

A check reaches the app from the host's side of the network: through an SSH
`direct-tcpip` channel, which is not a socket `ssl` can wrap (or through a plain socket
for a local host). `ssl.MemoryBIO` runs TLS over whatever carries the bytes.

The certificate is not verified, as Kubernetes' HTTPS probes do not verify it: a health
check asks whether the app answers, not who it is, and the URL usually names the host by
`{address}`, which a certificate for the site's name does not cover. The request carries
no secret of ours.
"""

from __future__ import annotations

import ssl
from typing import Protocol


class Stream(Protocol):
    def sendall(self, data: bytes) -> object: ...
    def recv(self, size: int) -> bytes: ...
    def settimeout(self, timeout: float | None) -> object: ...
    def close(self) -> object: ...


class TlsStream:
    """The stream's interface (sendall, recv, settimeout, close), encrypted.

    recv returns b"" at the end of the answer, whether the server said so
    (close_notify) or only closed the connection, as HTTP/1.0 servers often do.
    """

    def __init__(self, stream: Stream, server_name: str | None) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self._stream = stream
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing,
                                     server_hostname=server_name or None)

    def handshake(self) -> None:
        """Raises ssl.SSLError (not TLS, or refused) or the stream's own errors."""
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill():
                    raise ssl.SSLEOFError("the server closed during the TLS handshake") \
                        from None
                continue
            self._flush()
            return

    def settimeout(self, timeout: float | None) -> None:
        self._stream.settimeout(timeout)

    def sendall(self, data: bytes) -> None:
        self._tls.write(data)
        self._flush()

    def recv(self, size: int) -> bytes:
        while True:
            try:
                return self._tls.read(size)
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill():
                    return b""
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def close(self) -> None:
        self._stream.close()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._stream.sendall(data)

    def _fill(self) -> bool:
        chunk = self._stream.recv(65536)
        if not chunk:
            self._incoming.write_eof()
            return False
        self._incoming.write(chunk)
        return True
