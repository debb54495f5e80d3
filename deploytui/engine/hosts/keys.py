"""The operator's private key, read once per operation, in memory.

paramiko, given a key file, tries each key class in turn and reports the last one's
complaint: an encrypted ECDSA key in PEM format came out as `encountered EC key,
expected OPENSSH key`. Here `cryptography` reads the key whatever its format (OpenSSH,
PEM "BEGIN RSA/EC PRIVATE KEY", PKCS#8), encrypted or not, says in one line what is
wrong (encrypted and no passphrase, wrong passphrase, not a key), and the key is handed
to paramiko in memory. `ssh.key` (the key's text from a secret, for CI) goes the same
way and is never written to disk.
"""

from __future__ import annotations

import io
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


class KeyUnusable(Exception):
    """The key cannot be used; str() is one line naming it and what to do."""


_CLASSES: list[tuple[type, type[paramiko.PKey]]] = [
    (rsa.RSAPrivateKey, paramiko.RSAKey),
    (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
]


def key_from_file(path: Path, passphrase: str | None) -> paramiko.PKey:
    """The key in `path` (ssh.identity_file)."""
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise KeyUnusable(f"identity file {path}: {reason}") from None
    key = key_from_text(data, passphrase, f"identity file {path}")
    cert = Path(f"{path.expanduser()}-cert.pub")
    if cert.is_file():  # as ssh and paramiko do: a certificate beside the key is offered
        try:
            key.load_certificate(str(cert))
        except (OSError, ValueError, paramiko.SSHException) as exc:
            raise KeyUnusable(f"certificate {cert}: {exc}") from None
    return key


def key_from_text(data: bytes | str, passphrase: str | None, source: str) -> paramiko.PKey:
    """The key whose text is `data`; `source` names it in errors (never its text)."""
    raw = data.encode() if isinstance(data, str) else data
    loaded = _load(raw.strip() + b"\n", passphrase, source)
    for crypto_class, key_class in _CLASSES:
        if isinstance(loaded, crypto_class):
            # paramiko reads every type from OpenSSH's format: re-encoded here, in memory
            text = loaded.private_bytes(  # type: ignore[attr-defined]  # a cryptography key
                                        serialization.Encoding.PEM,
                                        serialization.PrivateFormat.OpenSSH,
                                        serialization.NoEncryption()).decode()
            return key_class.from_private_key(io.StringIO(text))
    raise KeyUnusable(f"{source}: {type(loaded).__name__.lstrip('_')} keys are not supported"
                      " (use ed25519, RSA or ECDSA)")


def _load(data: bytes, passphrase: str | None, source: str) -> object:
    password = passphrase.encode() if passphrase else None
    try:
        return _parse(data, password)
    except TypeError:
        if password is None:
            raise KeyUnusable(f"{source} is encrypted; set ssh.passphrase"
                              " (e.g. passphrase: {secret: NAME})") from None
        return _parse(data, None)  # a passphrase for a key that has none: not needed
    except ValueError as exc:
        text = str(exc).lower()
        if password is not None and ("decrypt" in text or "password" in text
                                     or "checksum" in text or "corrupt" in text):
            raise KeyUnusable(f"{source}: wrong passphrase (ssh.passphrase)") from None
        raise KeyUnusable(f"{source} is not a private key paramiko can read"
                          " (OpenSSH or PEM format)") from None
    except Exception as exc:  # an unsupported cipher, a broken ASN.1 structure...
        raise KeyUnusable(f"{source}: cannot read the key ({exc})") from None


def _parse(data: bytes, password: bytes | None) -> object:
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        return serialization.load_ssh_private_key(data, password)
    return serialization.load_pem_private_key(data, password)
