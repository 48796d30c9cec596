"""Build ``resources/export/gene_ids.tsv``: NCBI Gene (Entrez) ID and UniProtKB accession per panel gene.

Sources (both in the shared GRCh38 data, ``../shared/data``; never copied into the repository):

* NCBI Gene ID and HGNC ID: the MANE v1.5 summary rows
  (``transcripts_grch38/MANE.GRCh38.v1.5.summary.panel_genes.tsv``; Morales et al. 2022,
  doi:10.1038/s41586-022-04558-8).
* UniProtKB accession: the ``db_xref source="UniProtKB"`` of the gene's protein products in its
  LRG record (``reference_grch38/source_records/LRG_*.xml.gz``; MacArthur et al. 2014,
  doi:10.1093/nar/gkt1198), or the ``propagated from UniProtKB/Swiss-Prot (P01116.1)`` notes of the NCBI KRAS
  GenBank record. Genes without a record (no sequence in the shared data) get no accession.

Run: ``python scripts/build_gene_ids.py [DATA_DIR] > resources/export/gene_ids.tsv``.
"""

from __future__ import annotations

import gzip
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

HEADER = """\
# NCBI Gene (Entrez) ID and UniProtKB accession of the panel genes, for the cBioPortal export
# (Entrez_Gene_Id of data_cna.txt / data_mutations.txt, SWISSPROT of data_mutations.txt).
# Built by scripts/build_gene_ids.py from the shared GRCh38 data; do not edit by hand.
#   entrez_gene_id  NCBI Gene ID from MANE v1.5 summary (#NCBI_GeneID)
#   uniprot         UniProtKB accession of the gene's protein products in its LRG record (KRAS: NCBI GenBank
#                   record NC_000012.12 25205246-25250929); empty where the shared data hold no record
"""


def uniprot_from_lrg(path: Path) -> tuple[str, str]:
    """``(locus symbol, UniProtKB accession)`` of one LRG record: the accession most protein
    products of the locus gene cite."""
    root = ET.fromstring(gzip.decompress(path.read_bytes()))
    locus = root.findtext(".//lrg_locus")
    acc: Counter[str] = Counter()
    for gene in root.iter("gene"):
        sym = gene.find("symbol")
        if sym is None or sym.get("name") != locus:
            continue
        for prod in gene.iter("protein_product"):
            for x in prod.findall("db_xref"):
                if x.get("source") == "UniProtKB":
                    acc[x.get("accession")] += 1
    return locus or "", acc.most_common(1)[0][0] if acc else ""


def main(data: Path) -> None:
    mane = data / "transcripts_grch38" / "MANE.GRCh38.v1.5.summary.panel_genes.tsv"
    uniprot: dict[str, tuple[str, str]] = {}
    for rec in sorted((data / "reference_grch38" / "source_records").glob("LRG_*.xml.gz")):
        sym, acc = uniprot_from_lrg(rec)
        if acc:
            uniprot[sym] = (acc, f"{rec.name.split('.')[0]} (doi:10.1093/nar/gkt1198)")
    for gb in (data / "reference_grch38" / "source_records").glob("KRAS_*.gb.gz"):
        m = re.search(r"propagated from UniProtKB/Swiss-Prot \((\w+)\.\d+\)", gzip.decompress(gb.read_bytes()).decode())
        if m:
            uniprot["KRAS"] = (m.group(1), "NCBI GenBank NC_000012.12:25205246-25250929")
    out = [HEADER.rstrip("\n"), "symbol\tentrez_gene_id\thgnc_id\tuniprot\tcitation"]
    for line in mane.read_text().splitlines()[1:]:
        f = line.split("\t")
        if f[9] != "MANE Select":
            continue
        acc, src = uniprot.get(f[3], ("", ""))
        cite = "MANE v1.5 summary (doi:10.1038/s41586-022-04558-8)" + (f"; UniProtKB from {src}" if acc else "")
        out.append("\t".join([f[3], f[0].removeprefix("GeneID:"), f[2], acc, cite]))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data")
