"""UMI-tagged read pairs with planted molecules (issue 16; off unless called: the demo is unchanged).

Model (each choice with its reason; docs/umi.md, "Simulation"):

* **Molecules.** Double-stranded fragments placed uniformly in the given intervals, lengths
  from the plasma cfDNA distribution of :func:`.fragments.length_pmf` (mononucleosomal
  peak at 167 bp). Each molecule gets random UMIs: ``alpha-beta`` for duplex adapters (the
  top strand reads ``alpha-beta``, the bottom strand ``beta-alpha``; Schmitt et al. 2012), or
  one UMI per strand for single-UMI adapters (the two strands are then unrelated families).
* **Damage before tagging.** Each strand independently carries substitutions at
  ``damage_rate`` per base (default 3e-5: the single-strand consensus error rate Schmitt et al.
  2012, PNAS 109:14508, doi:10.1073/pnas.1208715109, measured, which they attribute mostly to
  damage of one strand); all reads of the strand inherit them, so single-strand consensus
  keeps them and duplex consensus removes them.
* **Family sizes.** Reads per strand ~ negative binomial with mean ``reads_per_strand`` and
  size ``family_dispersion`` (gamma-distributed amplification efficiency per molecule, Poisson
  sampling of reads: over-dispersed, right-skewed family sizes as seen in duplex libraries;
  Kennedy et al. 2014, Nat Protoc 9:2586, doi:10.1038/nprot.2014.170). A strand with 0 reads is
  not seen (a molecule seen on one strand only cannot give a duplex consensus).
* **PCR errors.** ``pcr_cycles`` rounds of duplication; the sampled reads' genealogy is drawn
  backwards: at each cycle the reads of a lineage split Binomial(k, 1/2) between the template
  and its new copy, and each new copy gains Poisson(``pcr_error_rate`` x length) substitutions
  (``pcr_error_rate`` 1e-6 per base per duplication: high-fidelity polymerase order of
  magnitude, Potapov & Ong 2017, PLoS One 12:e0169774, doi:10.1371/journal.pone.0169774). An
  error in an early cycle is shared by many reads of the family, as in real PCR.
* **Sequencing.** Qualities from the project's Illumina profile (:func:`.reads.draw_qualities`,
  read 2 worse than read 1) and substitutions at the reported quality's error probability
  (:func:`.reads.add_errors`); UMI bases get errors at ``umi_error_rate`` (Q30, the first cycles).
* **Alignment.** Reads are written aligned (``{len}M``; reads of fragments shorter than the
  read length are the fragment), as an aligner would place error-only reads.

Truth: one row per planted molecule strand seen (molecule, strand, contig, fragment start/end,
UMI, reads, planted SNVs carried); read names are ``m<molecule>:<strand>:<i>``, so families can be compared with the
planted molecules read by read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from ...atomic import atomic_path
from ..fragments import length_pmf
from ..reads import add_errors, draw_qualities

_ACGT = np.frombuffer(b"ACGT", dtype=np.uint8)
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)


@dataclass(frozen=True)
class UmiSimParams:
    """Parameters of :func:`simulate_umi_reads` (module docstring: the reason for each default)."""

    molecules: int
    duplex: bool = True
    read_length: int = 150
    umi_length: int = 8
    reads_per_strand: float = 5.0
    family_dispersion: float = 2.0
    pcr_cycles: int = 12
    pcr_error_rate: float = 1e-6
    damage_rate: float = 3e-5
    umi_error_rate: float = 1e-3
    fragment_kind: str = "plasma_normal"
    seed: int = 1
    #: planted SNVs: (BAM contig, 0-based position, alt base, VAF); a molecule spanning the
    #: position carries the alt on both strands with probability VAF
    variants: tuple[tuple[str, int, str, float], ...] = ()


@dataclass
class UmiRegion:
    """Sequence placed in a BAM contig: ``seq[0]`` is at 0-based ``offset`` of ``contig``."""

    contig: str
    length: int                                   # the contig's length in the BAM header
    offset: int
    seq: str
    intervals: list[tuple[int, int]] = field(default_factory=list)   # 0-based, contig coordinates


def regions_from_fasta(fasta: str | Path, contigs: list[str] | None = None, chromosome_coordinates: bool = False
                       ) -> list[UmiRegion]:
    """Regions of a region-contig FASTA (``chr7_55014032_55258620``), whole contig as interval.

    With ``chromosome_coordinates`` the BAM uses the chromosome name and GRCh38 length (as the
    workflow expects); else the region contig itself.
    """
    from ...reference.genome import grch38_chromosomes, parse_region_contig

    out = []
    with pysam.FastaFile(str(fasta)) as fa:
        for name in contigs or list(fa.references):
            seq = fa.fetch(name).upper()
            reg = parse_region_contig(name)
            if chromosome_coordinates and reg is not None:
                lengths = dict(grch38_chromosomes())
                out.append(UmiRegion(reg.chrom, lengths[reg.chrom], reg.start - 1, seq,
                                     [(reg.start - 1, reg.start - 1 + len(seq))]))
            else:
                out.append(UmiRegion(name, len(seq), 0, seq, [(0, len(seq))]))
    return out


def pcr_substitutions(rng: np.random.Generator, n_reads: int, length: int, cycles: int, rate: float
                      ) -> list[list[tuple[int, int]]]:
    """PCR substitutions (position, shift 1-3) carried by each of ``n_reads`` reads of one strand."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(n_reads)]
    lam = rate * length

    def new_muts(k: int) -> list[tuple[int, int]]:
        m = rng.poisson(lam * k) if k else 0
        return [(int(p), int(s)) for p, s in zip(rng.integers(0, length, m), rng.integers(1, 4, m))]

    stack = [(np.arange(n_reads), 0, [])]
    while stack:
        reads, cycle, muts = stack.pop()
        if len(reads) == 0:
            continue
        if len(reads) == 1 or cycle >= cycles:
            remaining = cycles - cycle
            extra = new_muts(int(rng.binomial(remaining, 0.5))) if remaining and lam else []
            for r in reads:
                out[r] = muts + extra if len(reads) == 1 else list(muts)
            continue
        to_copy = rng.random(len(reads)) < 0.5
        stack.append((reads[~to_copy], cycle + 1, muts))
        stack.append((reads[to_copy], cycle + 1, muts + (new_muts(1) if to_copy.any() else [])))
    return out


def _umi(rng: np.random.Generator, n: int) -> str:
    return _ACGT[rng.integers(0, 4, n)].tobytes().decode()


def _umi_errors(rng: np.random.Generator, umi: str, rate: float) -> str:
    arr = np.frombuffer(umi.encode(), dtype=np.uint8).copy()
    hit = (rng.random(len(arr)) < rate) & (arr != ord("-"))
    if hit.any():
        codes = _CODE[arr[hit]]
        arr[hit] = _ACGT[(codes + rng.integers(1, 4, hit.sum())) % 4]
    return arr.tobytes().decode()


def simulate_umi_reads(regions: list[UmiRegion], params: UmiSimParams, out_bam: str | Path, truth_tsv: str | Path,
                       sample_id: str = "UMI") -> pd.DataFrame:
    """Simulate UMI-tagged read pairs; write a coordinate-sorted indexed BAM and the truth table.

    Returns
    -------
    pandas.DataFrame
        The truth (also written to ``truth_tsv``): ``molecule, strand, contig, start, end, umi,
        reads, alts`` (``start``/``end`` 0-based half-open in BAM coordinates; ``umi`` in top-strand
        order; ``alts`` the planted SNVs the molecule carries, ``pos:alt`` joined by ``;``).
    """
    p = params
    rng = np.random.default_rng(p.seed)
    lens, probs = length_pmf(p.fragment_kind)
    ivs = [(ri, s, e) for ri, r in enumerate(regions) for s, e in r.intervals]
    weights = np.array([e - s for _, s, e in ivs], dtype=float)
    header = pysam.AlignmentHeader.from_dict({
        "HD": {"VN": "1.6", "SO": "unsorted"},
        # regions may share a chromosome: one @SQ line each
        "SQ": [{"SN": c, "LN": n} for c, n in dict.fromkeys((r.contig, r.length) for r in regions)],
        "RG": [{"ID": sample_id, "SM": sample_id, "PL": "ILLUMINA"}],
        "PG": [{"ID": "unlock-atlas-simulate-umi", "PN": "unlock-atlas"}]})
    rows = []
    out_bam = Path(out_bam)
    out_bam.parent.mkdir(parents=True, exist_ok=True)
    unsorted = out_bam.with_name(out_bam.name + ".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as wr:
        for mol in range(p.molecules):
            ri, s, e = ivs[rng.choice(len(ivs), p=weights / weights.sum())]
            reg = regions[ri]
            flen = int(min(rng.choice(lens, p=probs), e - s))
            start = int(rng.integers(s, e - flen + 1))
            top = _CODE[np.frombuffer(reg.seq[start - reg.offset:start - reg.offset + flen].encode(), dtype=np.uint8)]
            carried = []
            for vc, vpos, valt, vaf in p.variants:
                if vc == reg.contig and start <= vpos < start + flen and rng.random() < vaf:
                    top[vpos - start] = _CODE[ord(valt)]
                    carried.append(f"{vpos}:{valt}")
            alpha, beta = _umi(rng, p.umi_length), _umi(rng, p.umi_length)
            strand_umis = {"A": f"{alpha}-{beta}", "B": f"{beta}-{alpha}"} if p.duplex else \
                {"A": alpha, "B": _umi(rng, p.umi_length)}
            for strand in ("A", "B"):
                mean = p.reads_per_strand
                n = int(rng.negative_binomial(p.family_dispersion, p.family_dispersion / (p.family_dispersion + mean)))
                seq = top.copy()
                dmg = np.nonzero(rng.random(flen) < p.damage_rate)[0]
                seq[dmg] = (seq[dmg] + rng.integers(1, 4, len(dmg))) % 4
                if n == 0:
                    continue
                umi_true = strand_umis[strand]
                rows.append((mol, strand, reg.contig, start, start + flen,
                             strand_umis["A"] if p.duplex else umi_true, n, ";".join(carried)))
                muts = pcr_substitutions(rng, n, flen, p.pcr_cycles, p.pcr_error_rate)
                for i in range(n):
                    frag = seq.copy()
                    for pos, shift in muts[i]:
                        if frag[pos] < 4:
                            frag[pos] = (frag[pos] + shift) % 4
                    _write_pair(wr, header, rng, p, f"m{mol}:{strand}:{i}", reg, start, frag,
                                _umi_errors(rng, umi_true, p.umi_error_rate), r1_forward=strand == "A",
                                sample_id=sample_id)
    with atomic_path(out_bam) as tmp:
        pysam.sort("-o", str(tmp), "-O", "BAM", str(unsorted))
    unsorted.unlink()
    pysam.index(str(out_bam))
    truth = pd.DataFrame(rows, columns=["molecule", "strand", "contig", "start", "end", "umi", "reads", "alts"])
    with atomic_path(truth_tsv) as tmp:
        truth.to_csv(tmp, sep="\t", index=False)
    return truth


def _write_pair(wr: pysam.AlignmentFile, header: pysam.AlignmentHeader, rng: np.random.Generator, p: UmiSimParams,
                name: str, reg: UmiRegion, start: int, frag: np.ndarray, umi: str, r1_forward: bool,
                sample_id: str) -> None:
    """One read pair from a fragment (forward read from its start, reverse read from its end)."""
    rl = min(p.read_length, len(frag))
    mates = np.array([1, 2] if r1_forward else [2, 1])
    quals = draw_qualities(rng, mates, rl) - 33               # cycle order, Phred
    seq_f, seq_r = frag[:rl].copy(), frag[len(frag) - rl:].copy()
    q_f, q_r = quals[0], quals[1][::-1].copy()                # reverse read: SAM orientation
    bases = np.stack([seq_f, seq_r])
    qs = np.stack([q_f, q_r]).astype(np.uint8)
    add_errors(rng, bases, qs + 33)
    ref_id = header.get_tid(reg.contig)
    pos_f, pos_r = start, start + len(frag) - rl
    tlen = len(frag)
    for k, (pos, rev) in enumerate(((pos_f, False), (pos_r, True))):
        a = pysam.AlignedSegment(header)
        a.query_name = name
        is_r1 = (k == 0) == r1_forward
        a.flag = 0x1 | 0x2 | (0x40 if is_r1 else 0x80) | (0x10 if rev else 0x20)
        a.reference_id = ref_id
        a.reference_start = pos
        a.mapping_quality = 60
        a.cigarstring = f"{rl}M"
        a.next_reference_id = ref_id
        a.next_reference_start = pos_r if k == 0 else pos_f
        a.template_length = tlen if k == 0 else -tlen
        a.query_sequence = _DECODE[bases[k]].tobytes().decode()
        a.query_qualities = qs[k]
        a.set_tag("RX", umi)
        a.set_tag("RG", sample_id)
        a.set_tag("MC", f"{rl}M")
        wr.write(a)
