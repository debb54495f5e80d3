"""A known_hosts as a long-lived ops laptop has one: thousands of lines, mostly hashed
(Debian's HashKnownHosts yes), plain names, `[host]:port` entries, several key types,
comments, a few `@revoked` and `@cert-authority` lines. Used by tests and benchmarks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def _openssh_public(key: object) -> str:
    return key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def ed25519_public() -> str:
    """A fresh public key as known_hosts holds it: "ssh-ed25519 AAAA..."."""
    return _openssh_public(ed25519.Ed25519PrivateKey.generate())


def hashed_name(name: str, salt: bytes | None = None) -> str:
    """`|1|salt|hash` exactly as `ssh-keygen -H` writes it."""
    salt = salt or os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def lines(count: int, seed: int = 7) -> list[str]:
    """`count` realistic known_hosts lines naming hosts that are not in any fleet."""
    rng = random.Random(seed)
    keys = ([_openssh_public(ed25519.Ed25519PrivateKey.generate()) for _ in range(6)]
            + [_openssh_public(ec.generate_private_key(ec.SECP256R1())) for _ in range(3)]
            + [_openssh_public(rsa.generate_private_key(65537, 2048)) for _ in range(2)])
    out: list[str] = []
    for i in range(count):
        key = rng.choice(keys)
        name = rng.choice([f"10.{i // 250 % 250}.{i % 250}.{rng.randint(1, 254)}",
                           f"srv{i}.corp.example.com", f"[git{i}.example.org]:{2200 + i % 50}"])
        roll = rng.random()
        if roll < 0.01:
            out.append(f"# added {i}")
        elif roll < 0.015:
            out.append(f"@revoked * {key}")
        elif roll < 0.02:
            out.append(f"@cert-authority *.corp.example.com {key}")
        elif roll < 0.7:
            out.append(f"{hashed_name(name)} {key}")
        else:
            out.append(f"{name},{name.strip('[]').split(']')[0]} {key}")
    return out
