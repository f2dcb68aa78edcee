"""The address encodings of the chains riskops knows: base58(check), bech32/bech32m, EIP-55.

Small and dependency-free except Keccak-256 (pycryptodome): ``hashlib.sha3_256`` is the
final SHA-3, whose padding differs from the Keccak that Ethereum uses. Each function is
checked against the published vectors (BIP-173, BIP-350, EIP-55) in tests/intel.
"""

from __future__ import annotations

import hashlib
from enum import Enum

from Crypto.Hash import keccak

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(BASE58_ALPHABET)}
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(BECH32_CHARSET)}
_BECH32_DIGITS = bytes(_BECH32_INDEX.get(chr(code), 0xFF) for code in range(256))
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
# Longest text any decoder looks at: no address of any chain is longer, and a bound keeps
# a 10,000-character input from costing big-integer arithmetic.
MAX_ADDRESS_CHARS = 128


class Bech32Variant(Enum):
    BECH32 = "bech32"
    BECH32M = "bech32m"


# --- base58 -------------------------------------------------------------------------------


# Base58 digit values by character code; 0xFF marks a character outside the alphabet.
_B58_DIGITS = bytes(_B58_INDEX.get(chr(code), 0xFF) for code in range(256))
_B58_CHUNK = 5  # digits folded per big-integer step: 58**5 < 2**30, one machine digit
_B58_POWERS = [58**n for n in range(_B58_CHUNK + 1)]


def b58decode(text: str) -> bytes | None:
    """The bytes of base58 ``text`` (Bitcoin alphabet), or None when it is not base58."""
    if not text or len(text) > MAX_ADDRESS_CHARS or not text.isascii():
        return None
    digits = text.encode("ascii").translate(_B58_DIGITS)
    if 0xFF in digits:
        return None
    # Fold five digits into a small integer first: one big-integer step per five digits
    # instead of one per digit (the same value).
    value = 0
    for at in range(0, len(digits), _B58_CHUNK):
        chunk = digits[at : at + _B58_CHUNK]
        small = 0
        for digit in chunk:
            small = small * 58 + digit
        value = value * _B58_POWERS[len(chunk)] + small
    zeros = len(text) - len(text.lstrip("1"))
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return b"\x00" * zeros + body


def b58encode(data: bytes) -> str:
    """Base58 text of ``data`` (leading zero bytes become leading ``1``)."""
    value = int.from_bytes(data, "big")
    out: list[str] = []
    while value:
        value, rem = divmod(value, 58)
        out.append(BASE58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(out))


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def checksum_ok(raw: bytes) -> bool:
    """Whether decoded base58check bytes end with their payload's checksum."""
    return len(raw) >= 5 and _checksum(raw[:-4]) == raw[-4:]


def b58check_decode(text: str) -> bytes | None:
    """The payload of base58check ``text``, or None when the text or its checksum is wrong."""
    raw = b58decode(text)
    if raw is None or not checksum_ok(raw):
        return None
    return raw[:-4]


def b58check_encode(payload: bytes) -> str:
    """Base58check text of ``payload`` (version byte included by the caller)."""
    return b58encode(payload + _checksum(payload))


# --- bech32 / bech32m (BIP-173, BIP-350) ----------------------------------------------------


_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# BIP-173's inner loop XORs generator[i] for each set bit i of the top 5 bits: the XOR of
# each of the 32 combinations, precomputed, makes it one lookup.
_GEN_TABLE = tuple(
    _GENERATOR[0] * (t & 1)
    ^ _GENERATOR[1] * (t >> 1 & 1)
    ^ _GENERATOR[2] * (t >> 2 & 1)
    ^ _GENERATOR[3] * (t >> 3 & 1)
    ^ _GENERATOR[4] * (t >> 4 & 1)
    for t in range(32)
)


def _polymod_by_one(values: list[int]) -> int:
    """BIP-173's checksum, one 5-bit symbol a step (kept to build and test the pair table)."""
    chk = 1
    for value in values:
        chk = ((chk & 0x1FFFFFF) << 5 ^ value) ^ _GEN_TABLE[chk >> 25]
    return chk


def _two_steps_of_top(top: int) -> int:
    chk = top << 20
    for _ in range(2):
        chk = ((chk & 0x1FFFFFF) << 5) ^ _GEN_TABLE[chk >> 25]
    return chk


# The step is linear over GF(2): two symbols at once are the low 20 bits shifted by 10,
# the pair, and what the top 10 bits feed back over two steps (one lookup).
_PAIR_TABLE = tuple(_two_steps_of_top(top) for top in range(1024))


def _polymod(values: list[int]) -> int:
    chk = 1
    odd = len(values) & 1
    if odd:
        chk = ((chk & 0x1FFFFFF) << 5 ^ values[0]) ^ _GEN_TABLE[chk >> 25]
    for at in range(odd, len(values), 2):
        chk = ((chk & 0xFFFFF) << 10 ^ values[at] << 5 ^ values[at + 1]) ^ _PAIR_TABLE[chk >> 20]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_decode(text: str) -> tuple[str, list[int], Bech32Variant] | None:
    """(human-readable part, 5-bit data without checksum, variant), or None when invalid.

    Mixed case is invalid (BIP-173); the result's hrp is lower-case.
    """
    if not text or len(text) > 90:
        return None
    # Only ASCII 33-126: printable ASCII without the space.
    if not (text.isascii() and text.isprintable()) or " " in text:
        return None
    if text.lower() != text and text.upper() != text:
        return None
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        return None
    hrp = text[:pos]
    digits = text[pos + 1 :].encode("ascii").translate(_BECH32_DIGITS)  # ASCII: checked
    if 0xFF in digits:
        return None
    data = list(digits)
    const = _polymod(_hrp_expand(hrp) + data)
    if const == _BECH32_CONST:
        variant = Bech32Variant.BECH32
    elif const == _BECH32M_CONST:
        variant = Bech32Variant.BECH32M
    else:
        return None
    return hrp, data[:-6], variant


def bech32_encode(hrp: str, data: list[int], variant: Bech32Variant) -> str:
    """Bech32 or bech32m text of 5-bit ``data`` under ``hrp``."""
    const = _BECH32_CONST if variant is Bech32Variant.BECH32 else _BECH32M_CONST
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def convertbits(data: list[int] | bytes, frombits: int, tobits: int, pad: bool) -> list[int] | None:
    """Regroup ``data`` from ``frombits``-bit to ``tobits``-bit values (None when invalid)."""
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            return None
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


def segwit_decode(hrp: str, text: str) -> tuple[int, bytes] | None:
    """(witness version, program) of a segwit address under ``hrp``, or None (BIP-173/350)."""
    decoded = bech32_decode(text)
    if decoded is None:
        return None
    got_hrp, data, variant = decoded
    if got_hrp != hrp or not data:
        return None
    version = data[0]
    program = convertbits(data[1:], 5, 8, False)
    if program is None or not 2 <= len(program) <= 40 or version > 16:
        return None
    if version == 0 and len(program) not in (20, 32):
        return None
    # BIP-350: version 0 must use bech32, every later version bech32m.
    if (version == 0) != (variant is Bech32Variant.BECH32):
        return None
    return version, bytes(program)


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    """The segwit address of ``program`` (bech32 for v0, bech32m after)."""
    variant = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    data = convertbits(program, 8, 5, True)
    if data is None:  # bytes always regroup; kept for the type checker
        raise ValueError("program does not regroup")
    return bech32_encode(hrp, [version, *data], variant)


# --- Ethereum (EIP-55) ----------------------------------------------------------------------


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (not the final SHA3-256)."""
    return keccak.new(data=data, digest_bits=256).digest()


# Per byte of ASCII hex: 0x20 where the nibble is 8-f (_NIBBLE_HIGH), or where the
# character is a letter a-f (_HEX_LETTER); 0 elsewhere.
_NIBBLE_HIGH = bytes(0x20 if chr(code) in "89abcdef" else 0 for code in range(256))
_HEX_LETTER = bytes(0x20 if chr(code) in "abcdef" else 0 for code in range(256))


def _eip55_per_character(hex40: str) -> str:
    """EIP-55 as the EIP writes it, a character at a time (to test ``eip55`` against)."""
    lower = hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    pairs = zip(lower, digest[: len(lower)], strict=True)
    return "0x" + "".join(c.upper() if h in "89abcdef" else c for c, h in pairs)


def eip55(hex40: str) -> str:
    """The EIP-55 mixed-case checksum form of a 40-hex-digit address (with ``0x``)."""
    lower = hex40.lower()
    text = lower.encode("ascii")
    digest = keccak256(text).hex().encode("ascii")
    # A letter is upper-case where the hash's nibble at its position is 8 or more: XOR 0x20
    # on exactly those bytes, all 40 at once as one integer (digits keep their case bit).
    flip = int.from_bytes(digest[: len(text)].translate(_NIBBLE_HIGH), "big")
    flip &= int.from_bytes(text.translate(_HEX_LETTER), "big")
    cased = int.from_bytes(text, "big") ^ flip
    return "0x" + cased.to_bytes(len(text), "big").decode("ascii")
