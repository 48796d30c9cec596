"""NCBI Gene (Entrez) IDs and UniProtKB accessions of the panel genes (``resources/export/gene_ids.tsv``).

The table is built by ``scripts/build_gene_ids.py`` from the MANE v1.5 summary (Entrez, HGNC) and
the LRG / NCBI GenBank records (UniProtKB) of the shared GRCh38 data; each row cites its source.
Used by the MAF (``Entrez_Gene_Id``, ``SWISSPROT``) and the cBioPortal CNA file (``Entrez_Gene_Id``).
A gene missing from the table gets empty values (cBioPortal then resolves it by ``Hugo_Symbol``).
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import pandas as pd

from ..paths import resources_dir


class GeneIds(NamedTuple):
    entrez: str
    uniprot: str


@cache
def gene_ids() -> dict[str, GeneIds]:
    """``{HGNC symbol: GeneIds(entrez, uniprot)}`` (text; ``""`` where unknown)."""
    df = pd.read_csv(resources_dir() / "export" / "gene_ids.tsv", sep="\t", comment="#", dtype=str,
                     keep_default_na=False)
    return {r.symbol: GeneIds(r.entrez_gene_id, r.uniprot) for r in df.itertuples()}


def entrez_id(symbol: str) -> str:
    """NCBI Gene ID of ``symbol`` (``""`` when the table does not hold it)."""
    g = gene_ids().get(symbol)
    return g.entrez if g else ""


def uniprot_accession(symbol: str) -> str:
    """UniProtKB accession of ``symbol``'s protein (``""`` when the table does not hold it)."""
    g = gene_ids().get(symbol)
    return g.uniprot if g else ""
