"""The one-shot artifact server and its fetch, as a host runs them (`ship: relay`).

A host that holds the artifact serves it to the hosts the deploy sends to it, through a
tiny Python program it runs for this deploy only; a host that needs it fetches it from
a peer with the same program, checks its sha256 as the bytes arrive, and then serves it
on in turn. The program needs only `python3` on the host (standard library).

What keeps it safe and leaves nothing behind:
- it serves ONE file, the one opened when it starts (it keeps that descriptor: the
  unpack step may delete the file meanwhile), and only to a caller that first sends the
  deploy's one-time random token; the token reaches the program on its stdin, never on
  a command line;
- it binds the host's relay address only (the configured `relay_address`, else the
  address deploytui reaches the host at), on a free port unless `relay_port` says one;
- it lives as long as its SSH channel: a thread reads stdin to its end and then ends the
  process, so closing the channel, the deploying process dying (even by SIGKILL) or the
  connection dropping ends it; `alarm()` ends it after a hard deadline whatever happens;
- a fetch that gets no byte for `stall` seconds, or whose bytes do not hash to the
  expected sha256, removes what it wrote and says so: the deploy then uploads directly.

It serves what it holds AS IT ARRIVES (cut-through): a host fetching from a peer passes
the bytes on to the hosts fetching from it at the same time, so a tree of hosts costs
about one transfer time plus a little per level, not one transfer per level. The
sha256 is checked end to end, by every fetching host: bytes a broken peer passed on are
refused downstream too.

Lines it prints on stdout (all else goes to stderr): first `serving PORT` or `noserve
REASON`, then (a fetch) `fetched BYTES`, or `failed REASON` and it exits 1 (the hosts
fetching from it then see their transfer cut short).
"""

from __future__ import annotations

from deploytui.engine.shell import q

PART_SUFFIX = ".part"  # a fetch writes here, renamed only once its sha256 is right
# ...and then writes the digest it checked here: the unpack step need not hash it again
CHECKED_SUFFIX = ".sha256"

PROGRAM = r"""# deploytui artifact relay
import hashlib, hmac, os, select, signal, socket, sys, threading, time
a = sys.argv[1:]
mode, path, bind, port, deadline, stall, size = (a[0], a[1], a[2], int(a[3]), float(a[4]),
                                                 float(a[5]), int(a[6]))
signal.signal(signal.SIGALRM, signal.SIG_DFL)
signal.alarm(max(1, int(deadline)))
token = sys.stdin.buffer.readline().strip()
def drained():
    while sys.stdin.buffer.read1(4096):
        pass
    os._exit(0)
threading.Thread(target=drained, daemon=True).start()
def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()
def why(exc):
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).lower()
held = path + ".part" if mode == "fetch" else path
def serve(c):
    try:
        c.settimeout(stall)
        line = b""
        while not line.endswith(b"\n") and len(line) < 512:
            more = c.recv(512 - len(line))
            if not more:
                return
            line += more
        if not hmac.compare_digest(line.strip(), token):
            return
        c.setblocking(False)
        sent, moved = 0, time.monotonic()
        while sent < size:
            have = min(os.fstat(fd).st_size, size)
            if have <= sent:
                if time.monotonic() - moved > stall:
                    return
                time.sleep(0.005)
                continue
            if not select.select([], [c], [], stall)[1]:
                return
            try:
                n = os.sendfile(c.fileno(), fd, sent, have - sent)
            except BlockingIOError:
                continue
            if n == 0:
                return
            sent += n
            moved = time.monotonic()
    except OSError:
        pass
    finally:
        c.close()
def accept():
    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
try:
    fd = os.open(held, os.O_RDONLY | os.O_CREAT, 0o600)
    family, kind, proto, _, where = socket.getaddrinfo(bind, port, 0, socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    listener.bind(where)
    listener.listen(128)
    threading.Thread(target=accept, daemon=True).start()
    say("serving", listener.getsockname()[1])
except OSError as exc:
    fd = None
    say("noserve", "%s: %s" % (bind, why(exc)))
if mode == "fetch":
    peer, peer_port, want = a[7], int(a[8]), a[9]
    try:
        s = socket.create_connection((peer, peer_port), timeout=stall)
        s.sendall(token + b"\n")
        digest, got = hashlib.sha256(), 0
        with open(held, "r+b" if fd is not None else "wb") as out:
            while got < size:
                chunk = s.recv(min(1 << 20, size - got))
                if not chunk:
                    break
                out.write(chunk)
                out.flush()
                digest.update(chunk)
                got += len(chunk)
        s.close()
        if got != size:
            raise OSError(0, "the peer closed after %d of %d bytes" % (got, size))
        if digest.hexdigest() != want:
            raise OSError(0, "sha256 mismatch: got %s" % digest.hexdigest())
        os.rename(held, path)
        with open(path + ".sha256", "w") as checked:
            checked.write(want + "\n")
    except (OSError, socket.timeout) as exc:
        try:
            os.unlink(held)
        except OSError:
            pass
        if isinstance(exc, socket.timeout):
            say("failed", "no data from %s:%d for %gs" % (peer, peer_port, stall))
        else:
            say("failed", "%s:%d: %s" % (peer, peer_port, why(exc)))
        os._exit(1)
    say("fetched", got)
if fd is None:
    sys.exit(0)
threading.Event().wait()
"""


def _command(*args: object) -> str:
    return "exec python3 -c " + q(PROGRAM) + " " + " ".join(q(a) for a in args)


def serve_command(path: str, bind: str, port: int, deadline: float, stall: float,
                  size: int) -> str:
    """Serve the `size`-byte file at `path` to token holders, from its first byte on: it
    may still be arriving (an upload writing into it), the server sends what is there."""
    return _command("serve", path, bind, port, int(deadline), stall, size)


def fetch_command(path: str, bind: str, port: int, deadline: float, stall: float,
                  size: int, *, peer: str, peer_port: int, sha256: str) -> str:
    """Serve `path` (as above, while it arrives) and fetch it from peer:peer_port into
    `path`.part, renamed to `path` once all `size` bytes hash to `sha256`."""
    return _command("fetch", path, bind, port, int(deadline), stall, size, peer, peer_port,
                    sha256)


def leftovers_command(releases: str, name: str) -> str:
    """Remove what a killed deploy's transfer may have left in any release directory
    (run under the lock, before the new release is made; only ever inside releases/)."""
    return " ".join(["rm -f --", *(f"{q(releases)}/*/{q(name + suffix)}"
                                   for suffix in ("", PART_SUFFIX, CHECKED_SUFFIX))])
