"""Pseudonymisation of patient and sample IDs in the shareable atlas.

A pseudonym is a keyed hash: the first 12 hexadecimal characters (48 bits) of
``HMAC-SHA256(key, kind + ":" + raw_id)`` (kind = ``patient`` or ``sample``, so a patient and a
sample with the same raw ID get different pseudonyms). Keyed, so nobody without the key can recompute a pseudonym from a guessed
hospital ID (a plain hash of a short ID is trivially reversible by enumeration); deterministic,
so the same key gives the same pseudonyms across runs and later data can be joined. 48 bits
make a collision in a 10⁵-ID cohort a ~2·10⁻⁵ event; collisions are still checked and refused.

The key comes from, in order: the configured ``privacy.key_file``; the environment variable
``UNLOCK_ATLAS_KEY``; else ``<private>/pseudonym.key``, created once (32 random bytes from
:func:`secrets.token_bytes`, hex, mode 0600, written atomically) and reused afterwards. Key
text that is hexadecimal is decoded to bytes; other text is used as UTF-8. A key must carry
at least 16 bytes (128 bits) so the pseudonyms cannot be brute-forced.

The map back to raw IDs is ``<private>/id_map.tsv`` (``kind, raw_id, pseudonym``), never in
the shareable outputs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
from collections.abc import Iterable
from pathlib import Path

from ..atomic import atomic_path
from ..errors import UnlockError

KEY_ENV = "UNLOCK_ATLAS_KEY"
KEY_FILE_NAME = "pseudonym.key"
ID_MAP_NAME = "id_map.tsv"
KINDS = ("patient", "sample")
#: Minimum key length in bytes (128 bits).
MIN_KEY_BYTES = 16
PSEUDONYM_CHARS = 12


class PseudonymError(UnlockError):
    """A problem with the pseudonymisation key or the resulting pseudonyms."""


def _parse_key(text: str, source: str) -> bytes:
    text = text.strip()
    if text and len(text) % 2 == 0 and all(c in string.hexdigits for c in text):
        key = bytes.fromhex(text)
    else:
        key = text.encode()
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymError(
            f"the pseudonymisation key from {source} is {len(key)} bytes; at least {MIN_KEY_BYTES} are needed "
            "-> make one with `python -c \"import secrets; print(secrets.token_hex(32))\"`")
    return key


def resolve_key(private_dir: Path, key_file: Path | None = None) -> tuple[bytes, str]:
    """Find (or create once) the pseudonymisation key.

    Parameters
    ----------
    private_dir
        ``results/private``: where a generated key is stored.
    key_file
        The configured ``privacy.key_file`` (takes precedence when given).

    Returns
    -------
    tuple
        ``(key bytes, where it came from)`` — the source is for logs; the key is never logged.
    """
    if key_file is not None:
        key_file = Path(key_file)
        if not key_file.is_file():
            raise PseudonymError(f"privacy.key_file {key_file} does not exist -> create it (e.g. "
                                 "`python -c \"import secrets; print(secrets.token_hex(32))\" > KEYFILE`) "
                                 "or remove privacy.key_file to use a generated key")
        return _parse_key(key_file.read_text(), f"key_file {key_file}"), f"key_file {key_file}"
    env = os.environ.get(KEY_ENV)
    if env:
        return _parse_key(env, f"${KEY_ENV}"), f"${KEY_ENV}"
    path = Path(private_dir) / KEY_FILE_NAME
    if not path.exists():
        with atomic_path(path) as tmp:
            os.chmod(tmp, 0o600)
            tmp.write_text(secrets.token_hex(32) + "\n")
    return _parse_key(path.read_text(), str(path)), str(path)


def pseudonym(key: bytes, kind: str, raw_id: str) -> str:
    """The pseudonym of ``raw_id`` of ``kind`` ("patient" or "sample") under ``key``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    return hmac.new(key, f"{kind}:{raw_id}".encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


class Pseudonymiser:
    """Maps raw IDs to pseudonyms (or to themselves when disabled) and records the map."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self._maps: dict[str, dict[str, str]] = {k: {} for k in KINDS}

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def map_ids(self, kind: str, raw_ids: Iterable[str]) -> dict[str, str]:
        """Pseudonyms of ``raw_ids`` (identity when disabled); refuses collisions."""
        mapping = self._maps[kind]
        for raw in raw_ids:
            raw = str(raw)
            if raw not in mapping:
                mapping[raw] = pseudonym(self.key, kind, raw) if self.key is not None else raw
        seen: dict[str, str] = {}
        for raw, pseudo in mapping.items():
            if pseudo in seen:
                raise PseudonymError(
                    f"{kind} IDs {seen[pseudo]!r} and {raw!r} map to the same pseudonym {pseudo} "
                    "-> use another key (privacy.key_file / $UNLOCK_ATLAS_KEY), or rename one of the IDs")
            seen[pseudo] = raw
        return dict(mapping)

    def rows(self) -> list[tuple[str, str, str]]:
        """``(kind, raw_id, pseudonym)`` for every ID mapped so far, sorted."""
        return sorted((kind, raw, p) for kind, m in self._maps.items() for raw, p in m.items())


def write_id_map(rows: list[tuple[str, str, str]], private_dir: Path) -> Path:
    """Write ``<private_dir>/id_map.tsv`` (mode 0600) atomically; return its path."""
    path = Path(private_dir) / ID_MAP_NAME
    with atomic_path(path) as tmp:
        os.chmod(tmp, 0o600)
        with open(tmp, "w") as fh:
            fh.write("kind\traw_id\tpseudonym\n")
            for kind, raw, pseudo in rows:
                fh.write(f"{kind}\t{raw}\t{pseudo}\n")
    return path


def read_id_map(private_dir: Path) -> dict[tuple[str, str], str]:
    """``{(kind, raw_id): pseudonym}`` from ``<private_dir>/id_map.tsv``."""
    path = Path(private_dir) / ID_MAP_NAME
    if not path.is_file():
        raise PseudonymError(f"no ID map at {path} -> run `unlock-atlas atlas` with privacy.pseudonymise: true")
    out = {}
    with open(path) as fh:
        next(fh)
        for line in fh:
            kind, raw, pseudo = line.rstrip("\n").split("\t")
            out[(kind, raw)] = pseudo
    return out
