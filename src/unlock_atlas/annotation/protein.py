"""HGVS protein (p.) descriptions from a reference protein and the translated alternative.

The caller gives the reference protein ``P`` (with its terminal ``*``), the 0-based index
``c0`` of the first codon the variant touches, the reference peptide ``ref_w`` it replaces
(``P[c0:...]``) and the alternative peptide ``alt_w`` (translated from the variant coding
sequence; for frameshifts and lost stops up to and including the next stop). Rules (HGVS
v21): identical prefix/suffix residues are trimmed; deletions and insertions are shifted to
the most C-terminal equivalent position (3' rule); an insertion equal to the residues just
before it is a ``dup``; frameshifts are ``p.Arg12GlyfsTer5`` where ``Ter5`` counts the new
stop from the first changed residue (= 1); stop losses are ``p.Ter1211GlnextTer12``; a
change of Met1 is ``p.Met1?`` (start lost: the consequence cannot be predicted); a silent
change is ``p.Thr790=``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .seq import THREE


@dataclass
class ProteinChange:
    """The protein effect of one variant on one transcript."""

    kind: str            # missense | synonymous | stop_gained | stop_lost | stop_retained | start_lost |
                         # frameshift | inframe_deletion | inframe_insertion | delins
    long: str            # p.Thr790Met
    short: str           # p.T790M
    start: int           # first residue (1-based)
    end: int             # last residue (1-based)
    ref_aa: str          # reference residues (VEP Amino_acids, left of '/')
    alt_aa: str


def _l(aa: str) -> str:
    return "".join(THREE.get(a, "Xaa") for a in aa)


def _s(aa: str) -> str:
    return aa


def _fmt(fn, P: str, k: int, rem: str, ins: str, kind: str) -> str:
    """Format one description with residue formatter ``fn`` (long or short)."""
    L = len(rem)
    if kind in ("missense", "stop_gained") and L == 1 and len(ins) == 1:
        return f"p.{fn(rem)}{k + 1}{fn(ins)}"
    if kind == "synonymous" or kind == "stop_retained":
        return f"p.{fn(P[k])}{k + 1}="
    if kind == "start_lost":
        return f"p.{fn('M')}1?"
    rng = f"{fn(P[k])}{k + 1}" if L <= 1 else f"{fn(P[k])}{k + 1}_{fn(P[k + L - 1])}{k + L}"
    if kind == "dup":
        n = len(ins)
        return f"p.{fn(P[k - n])}{k - n + 1}" + ("" if n == 1 else f"_{fn(P[k - 1])}{k}") + "dup"
    if kind == "inframe_insertion":
        return f"p.{fn(P[k - 1])}{k}_{fn(P[k])}{k + 1}ins{fn(ins)}"
    if kind == "inframe_deletion":
        return f"p.{rng}del"
    return f"p.{rng}delins{fn(ins)}"


def inframe_change(P: str, c0: int, ref_w: str, alt_w: str) -> ProteinChange:
    """Protein change of an in-frame variant whose reference window does not hold the stop.

    ``alt_w`` is the translated alternative window; if it contains ``*`` the change is a
    stop gain and the window is cut after it.
    """
    if "*" in alt_w:
        alt_w = alt_w[:alt_w.index("*") + 1]
        if len(alt_w) < len(ref_w):  # everything after the new stop is lost: compare up to it
            ref_w = ref_w[:len(alt_w)]
    n = min(len(ref_w), len(alt_w))
    p = 0
    while p < n and ref_w[p] == alt_w[p]:
        p += 1
    s = 0
    if not alt_w.endswith("*") or len(alt_w) != len(ref_w):
        while s < n - p and ref_w[-1 - s] == alt_w[-1 - s]:
            s += 1
    k = c0 + p
    rem, ins = ref_w[p:len(ref_w) - s], alt_w[p:len(alt_w) - s]
    if not rem and not ins:
        kind = "synonymous"
        k = c0
        return ProteinChange(kind, _fmt(_l, P, k, "", "", kind), _fmt(_s, P, k, "", "", kind), k + 1, k + 1, P[k], P[k])
    if k == 0 and rem[:1] == "M":
        kind = "start_lost"
        return ProteinChange(kind, "p.Met1?", "p.M1?", 1, 1, rem, ins or "-")
    if "*" in ins:
        kind = "stop_gained"
        ins = ins[:ins.index("*") + 1]
        if ins == "*":
            rem = rem[:1]
    elif not rem:
        L = len(ins)
        while k < len(P) - 1 and P[k] == ins[0]:   # 3' rule on the protein
            ins = ins[1:] + ins[0]
            k += 1
        kind = "dup" if k >= L and P[k - L:k] == ins else "inframe_insertion"
    elif not ins:
        L = len(rem)
        while k + L < len(P) - 1 and P[k] == P[k + L]:
            k += 1
        rem = P[k:k + L]
        kind = "inframe_deletion"
    elif len(rem) == 1 and len(ins) == 1:
        kind = "missense"
    else:
        kind = "delins"
    long, short = _fmt(_l, P, k, rem, ins, kind), _fmt(_s, P, k, rem, ins, kind)
    if kind == "dup":
        kind = "inframe_insertion"
    end = k + max(len(rem), 1)
    return ProteinChange(kind, long, short, k + 1, end, rem or "-", ins or "-")


def extended_change(P: str, c0: int, alt_tail: str, frameshift: bool) -> ProteinChange:
    """Protein change of a frameshift, or of an in-frame change that touches the stop codon.

    ``alt_tail`` is the alternative protein from codon ``c0`` up to and including its first
    stop (without a stop when none occurs before the end of the transcript).
    """
    ref_tail = P[c0:]
    p = 0
    n = min(len(ref_tail), len(alt_tail))
    while p < n and ref_tail[p] == alt_tail[p]:
        p += 1
    k = c0 + p
    if p == n and len(ref_tail) == len(alt_tail):
        kind = "stop_retained" if k >= len(P) - 1 or P[min(k, len(P) - 1)] == "*" else "synonymous"
        k = min(c0, len(P) - 1)
        return ProteinChange(kind, _fmt(_l, P, k, "", "", kind), _fmt(_s, P, k, "", "", kind), k + 1, k + 1, P[k], P[k])
    if k == 0:
        return ProteinChange("start_lost", "p.Met1?", "p.M1?", 1, 1, "M", alt_tail[:1] or "-")
    new = alt_tail[p:]
    if k >= len(P):  # reference already ended (shouldn't happen: P ends with '*')
        k = len(P) - 1
    ref_aa = P[k]
    if ref_aa == "*":
        if not new:
            return ProteinChange("stop_lost", f"p.Ter{k + 1}?", f"p.*{k + 1}?", k + 1, k + 1, "*", "-")
        tail = f"extTer{new.index('*')}" if "*" in new else "extTer?"
        stail = tail.replace("Ter", "*")
        return ProteinChange("stop_lost", f"p.Ter{k + 1}{_l(new[0])}{tail}", f"p.*{k + 1}{new[0]}{stail}",
                             k + 1, k + 1, "*", new[0])
    if not new or new[0] == "*":
        return ProteinChange("stop_gained", f"p.{_l(ref_aa)}{k + 1}Ter", f"p.{ref_aa}{k + 1}*", k + 1, k + 1, ref_aa, "*")
    if frameshift:
        n_ter = str(new.index("*") + 1) if "*" in new else "?"
        return ProteinChange("frameshift", f"p.{_l(ref_aa)}{k + 1}{_l(new[0])}fsTer{n_ter}",
                             f"p.{ref_aa}{k + 1}{new[0]}fs*{n_ter}", k + 1, k + 1, ref_aa, new[0])
    # in-frame change touching the stop codon, stop not at the changed residue: generic window
    return inframe_change(P, c0, ref_tail, alt_tail)
