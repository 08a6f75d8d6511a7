"""The Merkle tree of the access trail (RFC 9162 §2.1, the hashing of RFC 6962), framework-free.

This file is also the patient's verifier: it imports nothing from Django or the portal, only the
standard library and ``cryptography`` (for Ed25519), so it can be copied and run alone::

    pip install cryptography
    python3 merkle.py preuve-acces.json

It checks that the access event described in the downloaded proof is in the trail's tree under
a tree head signed by the portal: the commitment to the event's texts, the leaf hash of its
fields, the inclusion proof against the head's root, the head's Ed25519 signature. Compare the
key it prints with the one the portal publishes (README: "Vérifier une preuve").

Hashes: a leaf is SHA-256(0x00 ‖ data), a node SHA-256(0x01 ‖ left ‖ right); the tree of n
leaves splits at the largest power of two below n. Tree nodes are named (level, index): the
perfect subtree of 2**level leaves starting at leaf index << level.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()
# Domain separation: a signature made for a tree head is good for nothing else.
HEAD_CONTEXT = b"DMP Portal access trail tree head, version 2\n"
PROOF_FORMAT = "dmp-portal-inclusion-proof/1"

Node = tuple[int, int]  # (level, index)


class ProofError(Exception):
    """A proof, a head or an event that does not check; the message says which."""


def leaf_data(fields: Mapping[str, Any]) -> bytes:
    """An event's leaf data: its fields as one JSON object with sorted keys, ASCII only. Fields
    whose value is null are left out, so that a column added later (null in the events written
    before it) changes no leaf already in the tree."""
    present = {name: value for name, value in fields.items() if value is not None}
    return json.dumps(present, sort_keys=True, separators=(",", ":")).encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def details_digest(salt: str, actor_label: str, detail: str) -> str:
    """The commitment to an event's free texts: SHA-256 of the salt's bytes, then the two texts
    as a JSON pair (so that no two pairs of texts encode alike). ValueError on a bad salt."""
    texts = json.dumps([actor_label, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(bytes.fromhex(salt) + texts.encode()).hexdigest()


def head_message(size: int, root: str, at: str) -> bytes:
    """The bytes a tree head's signature covers."""
    body = {"at": at, "root": root, "size": size}
    return HEAD_CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The aligned perfect subtrees that make up leaves [start, end), left to right. For the
    ranges a tree of RFC 9162 is made of, its hash is these nodes folded from the right."""
    nodes: list[Node] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its perfect subtrees (``perfect_nodes``), folded from the right."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make the audit path of leaf ``index`` in a tree of ``size``
    leaves (RFC 9162 §2.1.3.1), from the leaf up."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return list(reversed(ranges))


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make the consistency proof from a tree of ``old`` leaves to
    one of ``new`` leaves (RFC 9162 §2.1.4.1, SUBPROOF), in proof order."""
    ranges: list[tuple[int, int]] = []

    def subproof(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, complete)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    if 0 < old < new:
        subproof(old, 0, new, True)
    return ranges


def ranges_hashes(
    ranges: Iterable[tuple[int, int]], nodes: Callable[[list[Node]], Mapping[Node, bytes]]
) -> list[bytes]:
    """The hashes of ``ranges``, from the perfect subtree hashes ``nodes`` returns (one call)."""
    wanted = [perfect_nodes(start, end) for start, end in ranges]
    known = nodes(sorted({node for parts in wanted for node in parts}))
    return [fold([known[node] for node in parts]) for parts in wanted]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an audit path leads to (RFC 9162 §2.1.3.2). ProofError if it cannot."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ProofError("the audit path is too long")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the audit path is too short")
    return result


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new`` leaves extends the one of ``old`` leaves (RFC 9162
    §2.1.4.2). ProofError if it does not."""
    if old > new:
        raise ProofError(f"a tree of {new} leaves cannot extend one of {old}")
    if old == new or old == 0:
        if proof or (old == new and old_root != new_root):
            raise ProofError("the two heads disagree")
        return
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        raise ProofError("the consistency proof is empty")
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr, sr, sn = _consistency_roots(fn, sn, path)
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError("the newer tree does not extend the older one")


def _consistency_roots(fn: int, sn: int, path: Sequence[bytes]) -> tuple[bytes, bytes, int]:
    """Steps 5-6 of RFC 9162 §2.1.4.2: the old and new roots the proof leads to."""
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return fr, sr, sn


class CompactRange:
    """The right edge of a growing tree (its perfect subtrees, ``perfect_nodes(0, size)``):
    append leaves one by one, get the nodes each completes, ask the root at any size."""

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        """Resume a tree of ``size`` leaves whose perfect subtrees have the hashes ``edge``."""
        levels = [level for level, _index in perfect_nodes(0, size)]
        if len(levels) != len(edge):
            raise ValueError(f"a tree of {size} leaves has {len(levels)} perfect subtrees")
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(zip(levels, edge, strict=True))

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf; returns the nodes (level, index, hash) it adds: itself, and every
        parent it completes."""
        index, level, current = self.size, 0, leaf
        added = [(0, index, leaf)]
        while self._stack and self._stack[-1][0] == level:
            current = node_hash(self._stack.pop()[1], current)
            level += 1
            added.append((level, index >> level, current))
        self._stack.append((level, current))
        self.size += 1
        return added

    def root(self) -> bytes:
        return fold([value for _level, value in self._stack])


# --- The standalone check of a downloaded proof ---------------------------------------------------


def check_proof(proof: Mapping[str, Any]) -> str:
    """Check a proof as the portal's proof download writes it; return a one-line summary.
    ProofError naming what does not check."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        if proof["format"] != PROOF_FORMAT:
            raise ProofError(f"unknown proof format {proof['format']!r}")
        event, head, texts = dict(proof["event"]), proof["tree_head"], proof.get("texts")
        index, size = int(proof["leaf_index"]), int(head["size"])
        path = [bytes.fromhex(value) for value in proof["audit_path"]]
        root, key = bytes.fromhex(head["root"]), bytes.fromhex(proof["public_key"])
        signature = bytes.fromhex(head["signature"])
        message = head_message(size, head["root"], head["at"])
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"the proof file is incomplete or unreadable ({error!r})") from None
    if texts is not None:
        opened = details_digest(texts["salt"], texts["actor_label"], texts["detail"])
        if opened != event.get("detail_digest"):
            raise ProofError("the event's texts do not match their commitment")
    computed = root_from_inclusion(index, size, leaf_hash(leaf_data(event)), path)
    if computed != root:
        raise ProofError("the event is not in the tree of the signed head")
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise ProofError("the tree head's signature is wrong") from None
    key_id = hashlib.sha256(key).hexdigest()[:16]
    return (
        f"OK: event {event.get('public_id')} of {event.get('at')} is leaf {index} of the "
        f"{size}-leaf tree signed on {head['at']} by key {key_id}."
    )


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} PROOF.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as file:
            summary = check_proof(json.load(file))
    except (OSError, json.JSONDecodeError, ProofError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
