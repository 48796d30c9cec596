"""Check MAF rows against the GDC MAF column specification (``resources/export/gdc_maf_columns.tsv``).

The table gives, per column the atlas writes, its type, allowed values, whether the specification
allows it to be empty, and where the atlas documents leaving a not-null column empty (GDC MAF
Format v1.0.0 with the TCGA MAF 2.4.1 null/enumeration rules; sources in the table's header).
:func:`check_maf` returns every violation; an empty list means the MAF follows the specification.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd

from ..paths import resources_dir

#: value patterns of the specification's types (enum is checked against ``allowed``)
TYPE_PATTERNS = {
    "integer": re.compile(r"^\d+$"),
    "position": re.compile(r"^[1-9]\d*$"),
    "allele": re.compile(r"^(?:[ACGT]+|-)$"),
    "chromosome": re.compile(r"^chr(?:[1-9]|1\d|2[0-2]|X|Y|M)$"),
    "ensembl_transcript": re.compile(r"^ENST\d{11}(?:\.\d+)?$"),
    # UniProtKB accession format, https://www.uniprot.org/help/accession_numbers
    "uniprot": re.compile(r"^(?:[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})$"),
    "refseq": re.compile(r"^N[MR]_\d+\.\d+$"),
    "so_terms": re.compile(r"^[A-Za-z0-9_']+(?:&[A-Za-z0-9_']+)*$"),
}


@cache
def maf_spec() -> pd.DataFrame:
    """The specification table (one row per column, in MAF order; all text)."""
    return pd.read_csv(resources_dir() / "export" / "gdc_maf_columns.tsv", sep="\t", comment="#", dtype=str,
                       keep_default_na=False)


def check_maf(df: pd.DataFrame) -> list[str]:
    """Every way ``df`` (MAF rows as text) departs from the specification, as readable lines.

    Checked: the specified columns are present, in order, at the start; each value has the
    column's type or is one of its allowed values; a not-null column is empty only where the table
    documents why (``atlas_empty_when``). Columns after the specified ones are not checked.
    """
    spec = maf_spec()
    problems: list[str] = []
    want = spec["column"].tolist()
    if list(df.columns[: len(want)]) != want:
        missing = [c for c in want if c not in df.columns]
        problems.append(f"columns 1-{len(want)} are not the specification's in order (missing: {missing or 'none'})")
        return problems
    for s in spec.itertuples():
        col = df[s.column].astype(str)
        empty = col == ""
        if s.null_allowed == "no" and not s.atlas_empty_when and empty.any():
            problems.append(f"{s.column}: {int(empty.sum())} empty value(s); the specification requires one "
                            f"(first at data row {int(empty.idxmax()) + 1})")
        vals = col[~empty]
        if s.type == "enum":
            allowed = set(s.allowed.split(","))
            bad = vals[~vals.isin(allowed)]
        elif s.type in TYPE_PATTERNS:
            bad = vals[~vals.str.match(TYPE_PATTERNS[s.type])]
        else:
            continue
        if len(bad):
            problems.append(f"{s.column}: {len(bad)} value(s) not {s.type}"
                            f"{' in {' + s.allowed + '}' if s.type == 'enum' else ''}: {sorted(set(bad))[:5]}")
    return problems
