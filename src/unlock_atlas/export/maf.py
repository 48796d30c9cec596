"""MAF export of the atlas ``variants`` table (GDC MAF specification, vcf2maf conventions).

One row per variant × tumour sample (tissue or plasma) whose per-sample ``status`` and
``origin`` are selected (default: ``called`` and ``somatic`` — what a mutation MAF holds; ``somatic``
is :func:`unlock_atlas.domain.is_somatic`, origin somatic with FILTER PASS).
Columns are the 34 standard columns of the GDC MAF specification
(https://docs.gdc.cancer.gov/Data/File_Formats/MAF_Format/) in their order, then the
annotation and count columns analysts and cBioPortal use (``HGVSc``, ``HGVSp``,
``HGVSp_Short``, ``Transcript_ID``, ``SWISSPROT``, ``Exon_Number``, ``t_depth``, ``t_ref_count``, ``t_alt_count``,
``n_depth``, ``n_ref_count``, ``n_alt_count``), then atlas columns (``RefSeq``,
``Consequence``, ``FILTER``, ``t_vaf``, ``Origin``, ``Sample_Type``). Every column up to
``FILTER`` is checked against the specification table ``resources/export/gdc_maf_columns.tsv``
(:func:`unlock_atlas.export.maf_spec.check_maf`: types, allowed values, nulls).

Rules (each from the GDC specification or, where it is silent, from vcf2maf 1.6, the converter
cBioPortal documents — https://github.com/mskcc/vcf2maf):

* **Alleles / coordinates**: substitutions keep VCF coordinates (``Variant_Type`` SNP, DNP,
  TNP, ONP by length). Indels drop the VCF anchor base and use ``-`` for the empty allele: a
  deletion spans the deleted bases (``Start_Position`` = first deleted base); an insertion has
  ``Reference_Allele`` ``-`` and ``Start_Position``/``End_Position`` = the bases either side of
  the insertion point (the anchor and the next base). A complex indel without a shared first
  base keeps both alleles and spans its reference bases; its type is ``INS`` or ``DEL`` by
  which allele is longer (vcf2maf).
* **Variant_Classification** from the most severe SO term of ``consequence`` (atlas order:
  most severe first) with vcf2maf's ``GetVariantClassification`` table; frameshifts split into
  ``Frame_Shift_Del``/``_Ins`` by ``Variant_Type``; anything unmapped is ``Targeted_Region``.
* **HGVSp_Short** as vcf2maf writes it: synonymous ``p.Q787Q`` (not ``p.Q787=``), splice
  donor/acceptor variants ``p.X{n}_splice`` with n = round((c + c mod 3) / 3) from the HGVS c.
  position.
* **Tumor_Seq_Allele1** = ``Reference_Allele`` (heterozygous somatic call; cBioPortal then reads
  the variant from ``Tumor_Seq_Allele2``). **Matched_Norm_Sample_Barcode** is the patient's
  normal sample (``samples`` table); ``n_*`` counts come from that normal's row of the same
  variant. **Mutation_Status** is the specification's value for the origin (:data:`MUTATION_STATUS`:
  somatic, chip and ch_not_excluded -> ``Somatic`` (clonal haematopoiesis is somatic too; the
  ``Origin`` column keeps the atlas value), germline -> ``Germline``, artefact -> ``None``).
  **Validation_Status** ``Untested`` and **Validation_Method** ``none`` (no orthogonal validation;
  TCGA MAF 2.4.1 requires both). **Sequence_Source** ``Other``: the specification allows only SRA 1.5
  library strategies, which have no targeted-capture value. **Chromosome** keeps the UCSC ``chr`` prefix (GDC GRCh38 MAFs do).
* **Entrez_Gene_Id** is the NCBI Gene ID and **SWISSPROT** the UniProtKB accession (the column
  vcf2maf/VEP write; cBioPortal draws Pfam domains of that isoform) from
  ``resources/export/gene_ids.tsv`` (:mod:`.genes`); for a gene the table lacks, ``0`` (as the
  specification says for no gene) and empty.
  ``Hugo_Symbol`` is ``Unknown`` for an unannotated allele (GDC).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path
from ..domain import is_somatic
from .genes import entrez_id, uniprot_accession

#: atlas origin -> MAF Mutation_Status (TCGA MAF 2.4.1 enumeration; see the module docstring)
MUTATION_STATUS = {"somatic": "Somatic", "chip": "Somatic", "ch_not_excluded": "Somatic", "germline": "Germline",
                   "artefact": "None"}
#: The 34 standard GDC MAF columns, in order.
GDC_COLUMNS = [
    "Hugo_Symbol", "Entrez_Gene_Id", "Center", "NCBI_Build", "Chromosome", "Start_Position", "End_Position",
    "Strand", "Variant_Classification", "Variant_Type", "Reference_Allele", "Tumor_Seq_Allele1",
    "Tumor_Seq_Allele2", "dbSNP_RS", "dbSNP_Val_Status", "Tumor_Sample_Barcode", "Matched_Norm_Sample_Barcode",
    "Match_Norm_Seq_Allele1", "Match_Norm_Seq_Allele2", "Tumor_Validation_Allele1", "Tumor_Validation_Allele2",
    "Match_Norm_Validation_Allele1", "Match_Norm_Validation_Allele2", "Verification_Status", "Validation_Status",
    "Mutation_Status", "Sequencing_Phase", "Sequence_Source", "Validation_Method", "Score", "BAM_File",
    "Sequencer", "Tumor_Sample_UUID", "Matched_Norm_Sample_UUID",
]
ANNOTATION_COLUMNS = ["HGVSc", "HGVSp", "HGVSp_Short", "Transcript_ID", "SWISSPROT", "Exon_Number", "t_depth",
                      "t_ref_count", "t_alt_count", "n_depth", "n_ref_count", "n_alt_count"]
ATLAS_COLUMNS = ["RefSeq", "Consequence", "FILTER", "t_vaf", "Origin", "Sample_Type"]
MAF_COLUMNS = GDC_COLUMNS + ANNOTATION_COLUMNS + ATLAS_COLUMNS

#: vcf2maf GetVariantClassification: SO term -> MAF class (frameshift / protein_altering handled in code).
_CLASS = {
    **dict.fromkeys(["splice_acceptor_variant", "splice_donor_variant", "transcript_ablation", "exon_loss_variant"],
                    "Splice_Site"),
    "stop_gained": "Nonsense_Mutation",
    "stop_lost": "Nonstop_Mutation",
    "initiator_codon_variant": "Translation_Start_Site", "start_lost": "Translation_Start_Site",
    "inframe_insertion": "In_Frame_Ins", "disruptive_inframe_insertion": "In_Frame_Ins",
    "inframe_deletion": "In_Frame_Del", "disruptive_inframe_deletion": "In_Frame_Del",
    **dict.fromkeys(["missense_variant", "coding_sequence_variant", "conservative_missense_variant",
                     "rare_amino_acid_variant"], "Missense_Mutation"),
    **dict.fromkeys(["transcript_amplification", "intron_variant", "INTRAGENIC", "intragenic_variant"], "Intron"),
    "splice_region_variant": "Splice_Region",
    **dict.fromkeys(["incomplete_terminal_codon_variant", "synonymous_variant", "stop_retained_variant",
                     "NMD_transcript_variant"], "Silent"),
    **dict.fromkeys(["mature_miRNA_variant", "exon_variant", "non_coding_exon_variant",
                     "non_coding_transcript_exon_variant", "non_coding_transcript_variant", "nc_transcript_variant"],
                    "RNA"),
    "5_prime_UTR_variant": "5'UTR", "5_prime_UTR_premature_start_codon_gain_variant": "5'UTR",
    "3_prime_UTR_variant": "3'UTR",
    **dict.fromkeys(["TF_binding_site_variant", "regulatory_region_variant", "regulatory_region",
                     "intergenic_variant", "intergenic_region"], "IGR"),
    "upstream_gene_variant": "5'Flank",
    "downstream_gene_variant": "3'Flank",
}
_NP = {1: "SNP", 2: "DNP", 3: "TNP"}
_C_POS = re.compile(r"^c\.-?\*?(\d+)")
_SYN = re.compile(r"^p\.([A-Z*])(\d+)=$")


def maf_alleles(pos: int, ref: str, alt: str) -> tuple[int, int, str, str, str]:
    """MAF ``(Start_Position, End_Position, Reference_Allele, Tumor_Seq_Allele2, Variant_Type)``.

    ``pos``/``ref``/``alt`` are a VCF allele (indels with their anchor base, as the atlas
    stores them); see the module docstring for the rules.
    """
    if len(ref) == len(alt):
        return pos, pos + len(ref) - 1, ref, alt, _NP.get(len(ref), "ONP")
    if ref and alt and ref[0] == alt[0]:  # drop the anchor base
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    vtype = "INS" if len(ref) < len(alt) else "DEL"
    if not ref:   # pure insertion between pos-1 and pos
        return pos - 1, pos, "-", alt, vtype
    return pos, pos + len(ref) - 1, ref, alt or "-", vtype


def variant_classification(consequence: str | None, variant_type: str) -> str:
    """MAF ``Variant_Classification`` of the most severe SO term (vcf2maf's table)."""
    term = (consequence or "").split("&")[0] or "intergenic_variant"
    if term == "frameshift_variant" and variant_type in ("INS", "DEL"):
        return "Frame_Shift_Del" if variant_type == "DEL" else "Frame_Shift_Ins"
    return _CLASS.get(term, "Targeted_Region")


def hgvsp_short_maf(hgvsp_short: str | None, hgvsc: str | None, consequence: str | None) -> str:
    """vcf2maf's ``HGVSp_Short``: ``p.Q787Q`` for synonymous, ``p.X{n}_splice`` for splice sites.

    A splice-region variant without a protein change (intronic, e.g. ``c.137+4A>G``) also gets
    ``p.X{n}_splice``, as Genome Nexus (cBioPortal's annotator, ``ProteinChangeResolver``) writes it;
    its position rule ceil(c / 3) equals vcf2maf's round((c + c mod 3) / 3) for every c.
    """
    term = (consequence or "").split("&")[0]
    splice_region = term == "splice_region_variant" and not hgvsp_short
    if term in ("splice_acceptor_variant", "splice_donor_variant") or splice_region:
        m = _C_POS.match(hgvsc or "")
        if m and not (hgvsc or "").startswith(("c.-", "c.*")):
            c = max(int(m.group(1)), 1)
            return f"p.X{round((c + c % 3) / 3)}_splice"
    s = hgvsp_short or ""
    m = _SYN.match(s)
    return f"p.{m.group(1)}{m.group(2)}{m.group(1)}" if m else s


def _count(v) -> str:
    return "" if v is None or pd.isna(v) else str(int(v))


def build_maf(variants: pd.DataFrame, samples: pd.DataFrame, statuses: tuple[str, ...] = ("called",),
              origins: tuple[str, ...] = ("somatic",)) -> pd.DataFrame:
    """MAF rows (columns :data:`MAF_COLUMNS`, all text) from the atlas ``variants``/``samples`` tables.

    Parameters
    ----------
    statuses, origins
        Per-sample ``status`` and ``origin`` values kept (defaults: called somatic variants).
        Origin ``somatic`` means :func:`unlock_atlas.domain.is_somatic` (origin somatic AND FILTER
        PASS): uncalled candidates the caller keeps as somatic with FILTER ``low_evidence`` or
        ``low_depth`` are not somatic mutations.
    """
    normal_of = {r.patient_id: r.sample_id for r in samples.itertuples() if r.sample_type == "normal"}
    key = ["patient_id", "chrom", "pos", "ref", "alt"]
    is_normal = variants["sample_type"].astype(str) == "normal"
    normals = variants[is_normal].drop_duplicates(key).set_index(key)
    origin = variants["origin"].astype(str)
    wanted = origin.isin(origins) & ((origin != "somatic") | is_somatic(variants))
    tum = variants[~is_normal & variants["status"].astype(str).isin(statuses) & wanted]
    rows = []
    for r in tum.itertuples(index=False):
        start, end, ref_a, alt_a, vtype = maf_alleles(int(r.pos), str(r.ref), str(r.alt))
        nkey = (r.patient_id, r.chrom, r.pos, r.ref, r.alt)
        n = normals.loc[nkey] if nkey in normals.index else None
        norm_id = normal_of.get(r.patient_id, "")
        gene = r.gene if isinstance(r.gene, str) and r.gene else "Unknown"
        row = dict.fromkeys(MAF_COLUMNS, "")
        row.update({
            "Hugo_Symbol": gene, "Entrez_Gene_Id": entrez_id(gene) or "0", "Center": ".", "NCBI_Build": "GRCh38",
            "Chromosome": str(r.chrom),
            "Start_Position": str(start), "End_Position": str(end), "Strand": "+",
            "Variant_Classification": variant_classification(_s(r.consequence), vtype), "Variant_Type": vtype,
            "Reference_Allele": ref_a, "Tumor_Seq_Allele1": ref_a, "Tumor_Seq_Allele2": alt_a,
            "Tumor_Sample_Barcode": str(r.sample_id), "Matched_Norm_Sample_Barcode": norm_id,
            "Match_Norm_Seq_Allele1": ref_a if norm_id else "", "Match_Norm_Seq_Allele2": ref_a if norm_id else "",
            "Validation_Status": "Untested", "Validation_Method": "none",
            "Mutation_Status": MUTATION_STATUS.get(str(r.origin), "Unknown"), "Sequence_Source": "Other",
            "HGVSc": _s(r.hgvsc), "HGVSp": _s(r.hgvsp),
            "HGVSp_Short": hgvsp_short_maf(_s(r.hgvsp_short), _s(r.hgvsc), _s(r.consequence)),
            "Transcript_ID": _s(r.transcript), "SWISSPROT": uniprot_accession(gene), "t_depth": _count(r.depth),
            "t_ref_count": _count(r.ref_reads),
            "t_alt_count": _count(r.alt_reads),
            "n_depth": _count(n["depth"]) if n is not None else "",
            "n_ref_count": _count(n["ref_reads"]) if n is not None else "",
            "n_alt_count": _count(n["alt_reads"]) if n is not None else "",
            "RefSeq": _s(r.refseq_transcript), "Consequence": _s(r.consequence), "FILTER": _s(r.filter),
            "t_vaf": "" if pd.isna(r.vaf) else f"{float(r.vaf):.4g}", "Origin": str(r.origin),
            "Sample_Type": str(r.sample_type),
        })
        rows.append(row)
    df = pd.DataFrame(rows, columns=MAF_COLUMNS)
    if len(df):
        chrom_rank = df["Chromosome"].map(_chrom_rank)
        df = df.assign(_c=chrom_rank, _p=df["Start_Position"].astype(int)).sort_values(
            ["Tumor_Sample_Barcode", "_c", "_p", "Reference_Allele", "Tumor_Seq_Allele2"], kind="stable"
        ).drop(columns=["_c", "_p"]).reset_index(drop=True)
    return df


def _s(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _chrom_rank(chrom: str) -> int:
    c = chrom.removeprefix("chr")
    return int(c) if c.isdigit() else {"X": 23, "Y": 24, "M": 25, "MT": 25}.get(c, 26)


def write_maf(df: pd.DataFrame, out: str | Path, version_line: bool = True) -> None:
    """Write MAF rows atomically (tab-separated; ``#version 2.4`` first unless ``version_line`` is off)."""
    with atomic_path(out, suffix=".maf") as tmp:
        with open(tmp, "w") as fh:
            if version_line:
                fh.write("#version 2.4\n")
            df.to_csv(fh, sep="\t", index=False, lineterminator="\n")
