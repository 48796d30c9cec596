"""Knowledge-base completeness (issue 18, deliverable 6): the rows added with docs/kb-coverage.md.

Truth: the published studies cited in each case (first author, journal, year) — the expected
mechanism class of every case below was written from the paper's finding (on-target = a change in
the drug's own target; bypass = another gene reactivating the pathway; immune escape = loss of
antigen presentation or IFN-gamma signalling), not by running the classifier. Patients are built
with the helpers of test_classify_rules.py: the alteration is absent at baseline (tissue 400x,
plasma 1,000x) and called in both progression samples. Such a baseline bounds a pre-existing
subclone at ~1.6 % CCF only (a copy-number interval of +-0.3 copies at ~4 %), above the 0.5 % of
``acquired`` (classify/acquisition.py), and the CCF rose beyond chance: ``emerged`` on the drug,
counted as a mechanism.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_classify_rules import acquired_snv, amplification, make_patient

from unlock_atlas.classify.stage import classify
from unlock_atlas.errors import InputError
from unlock_atlas.knowledge import resolve_regimen
from unlock_atlas.knowledge.resistance import Alteration, default_kb_dir, load_kb

COVERAGE = Path(__file__).resolve().parents[1] / "docs" / "kb-coverage.md"


def copy_number(gene: str, cn_by_sample: dict[str, float], chrom: str = "chr10", start: int = 87863113) -> pd.DataFrame:
    """Copy-number rows of tissue samples at purity 0.5 (call: < 0.5 copies deep deletion, >= 5 amplification)."""
    rows = []
    for sid, c in cn_by_sample.items():
        r = math.log2(max(0.5 * c + 1.0, 1e-3) / 2)
        rows.append({"patient_id": "PX", "sample_id": sid, "sample_type": "tissue", "gene": gene, "chrom": chrom,
                     "start": start, "end": start + 100_000, "n_targets": 9, "mean_depth": 300.0, "log2_ratio": r,
                     "log2_se": 0.02, "ci_low": r - 0.04, "ci_high": r + 0.04, "tumour_content": 0.5,
                     "tumour_content_source": "purity", "copy_number": c, "copy_number_ci_low": max(0.0, c - 0.3),
                     "copy_number_ci_high": c + 0.3,
                     "call": "deep_deletion" if c < 0.5 else "amplification" if c >= 5 else "neutral",
                     "confidence": 0.99})
    return pd.DataFrame(rows)


def mechanisms(drug: str, *, snv: tuple[str, str, str] | None = None, cn: pd.DataFrame | None = None) -> pd.DataFrame:
    extra = None
    if snv is not None:
        gene, hgvsp, csq = snv
        extra = acquired_snv(gene, 1_000_000, hgvsp, csq=csq)
    return classify(make_patient(drug, extra, cn=cn)).mechanisms


def rows(m: pd.DataFrame) -> list[list]:
    return sorted(m[["drug", "class", "subclass", "gene", "alteration", "acquisition"]].values.tolist())


# -- tumour-suppressor loss on BRAF / MEK inhibitors ----------------------------------------------------------
def test_pten_homozygous_deletion_is_bypass_on_both_components_of_dabrafenib_trametinib():
    # Shi 2014 (PI3K-PTEN-AKT alterations in 22% of BRAFi-progressive melanomas); Catalanotti 2017 (PTEN LoF and
    # BRAFi +/- MEKi): PTEN is neither drug's target -> bypass (downstream PI3K reactivation) for each component
    m = mechanisms("dabrafenib+trametinib", cn=copy_number("PTEN", {"T-BL": 2.0, "T-PD": 0.0}))
    assert rows(m) == [["dabrafenib", "bypass", "BYPASS_DOWNSTREAM", "PTEN", "deep_deletion", "emerged"],
                       ["trametinib", "bypass", "BYPASS_DOWNSTREAM", "PTEN", "deep_deletion", "emerged"]]
    cites = dict(zip(m["drug"], m["citation"]))
    assert "24265155" in cites["dabrafenib"] and "32913971" in cites["trametinib"]


@pytest.mark.parametrize("hgvsp, csq", [("p.Arg130Ter", "stop_gained"), ("p.Lys267ArgfsTer9", "frameshift_variant")])
def test_pten_truncation_is_bypass_on_vemurafenib(hgvsp, csq):
    m = mechanisms("vemurafenib", snv=("PTEN", hgvsp, csq))
    assert rows(m)[0][:4] == ["vemurafenib", "bypass", "BYPASS_DOWNSTREAM", "PTEN"]


def test_nf1_loss_is_bypass_on_braf_and_mek_inhibitors():
    # Whittaker 2013: NF1 loss mediates resistance to RAF and MEK inhibitors (sustained MAPK activation)
    m = mechanisms("encorafenib+binimetinib", snv=("NF1", "p.Arg1362Ter", "stop_gained"))
    assert rows(m) == [["binimetinib", "bypass", "BYPASS_DOWNSTREAM", "NF1", "p.R1362*", "emerged"],
                       ["encorafenib", "bypass", "BYPASS_DOWNSTREAM", "NF1", "p.R1362*", "emerged"]]
    assert set(m["citation"]) == {"Whittaker SR et al., Cancer Discov 2013;3:350 (doi:10.1158/2159-8290.CD-12-0470)"}
    # a missense NF1 change of unknown effect is not loss of function
    assert mechanisms("vemurafenib", snv=("NF1", "p.Arg1362Gln", "missense_variant"))["subclass"].tolist() == ["UNKNOWN"]


# -- on-target kinase-domain mutations ------------------------------------------------------------------------
@pytest.mark.parametrize("drug, gene, hgvsp, citation", [
    ("alectinib", "ALK", "p.Ile1171Asn", "27432227"),          # Gainor 2016: I1171N after alectinib
    ("crizotinib", "ALK", "p.Val1180Leu", "CCR-14-1511"),      # Katayama 2014: V1180L also resists crizotinib
    ("ceritinib", "ALK", "p.Phe1174Cys", "24675041"),          # Friboulet 2014: F1174C on ceritinib
    ("lorlatinib", "ALK", "p.Leu1198Phe", "26698910"),         # Shaw 2016: C1156Y-L1198F on lorlatinib
    ("capmatinib", "MET", "p.Gly1163Arg", "CCR-19-3608"),      # Recondo 2020: solvent front G1163
    ("tepotinib", "MET", "p.Asp1228Asn", "Bahcall"),           # Bahcall 2016 / Recondo 2020: D1228
    ("crizotinib", "MET", "p.Tyr1230Cys", "CCR-19-3608"),      # type I MET TKI (MET exon 14)
    ("selpercatinib", "RET", "p.Tyr806Cys", "annonc.2020.10.599"),   # Subbiah 2021: hinge Y806C
    ("pralsetinib", "RET", "p.Gly810Arg", "Solomon"),          # Solomon 2020: solvent front G810
    ("pralsetinib", "RET", "p.Leu730Val", "34099825"),         # Shen 2021: L730V resistant to pralsetinib
    ("crizotinib", "ROS1", "p.Gly2032Arg", "Lin JJ"),          # Lin 2021 / Awad 2013
    ("entrectinib", "ROS1", "p.Gly2032Arg", "CD-18-0484"),     # Drilon 2018
    ("lorlatinib", "ROS1", "p.Gly2032Arg", "Lin JJ"),          # Lin 2021
    ("lorlatinib", "ROS1", "p.Leu2086Phe", "CCR-21-0032"),     # Lin 2021: L2086F refractory to lorlatinib
    ("larotrectinib", "NTRK1", "p.Gly595Arg", "Drilon"),       # Drilon 2017; Russo 2016 (solvent front)
    ("entrectinib", "NTRK3", "p.Gly623Arg", "Drilon"),
    ("larotrectinib", "NTRK3", "p.Gly696Ala", "CD-20-0571"),   # Cocco 2021: xDFG G696A
    ("repotrectinib", "NTRK3", "p.Gly696Ala", "CD-20-0571"),   # xDFG also resists next-generation type I
    ("erdafitinib", "FGFR3", "p.Val555Met", "CD-22-1441"),     # Facchinetti 2023: FGFR3 gatekeeper
    ("pemigatinib", "FGFR2", "p.Val564Phe", "28034880"),       # Goyal 2017: FGFR2 gatekeeper (MANE V564)
    ("cetuximab", "EGFR", "p.Gly465Arg", "25623215"),          # Arena 2015: ectodomain G465R
    ("panitumumab", "EGFR", "p.Ser464Leu", "25623215"),        # ... S464L blocks both antibodies
    ("cetuximab", "EGFR", "p.Ser492Arg", "22270724"),          # Montagut 2012
    ("lapatinib", "ERBB2", "p.Leu755Ser", "PMC5762201"),       # Xu 2017
])
def test_on_target_mutations(drug, gene, hgvsp, citation):
    m = mechanisms(drug, snv=(gene, hgvsp, "missense_variant"))
    assert rows(m) == [[drug, "on_target", "ON_TARGET_MUT", gene, "p." + load_kb().normalise(gene, hgvsp), "emerged"]]
    assert citation in m["citation"].iloc[0]


@pytest.mark.parametrize("drug, gene, hgvsp, why", [
    ("crizotinib", "ALK", "p.Leu1198Phe", "Shaw 2016: L1198F re-sensitises to crizotinib"),
    ("ceritinib", "ALK", "p.Ile1171Thr", "Katayama 2014: I1171T stays sensitive to ceritinib"),
    ("ceritinib", "ALK", "p.Val1180Leu", "Katayama 2014: V1180L stays sensitive to ceritinib"),
    ("repotrectinib", "ROS1", "p.Gly2032Arg", "Drilon 2018 / TRIDENT-1 2024: designed to overcome G2032R"),
    ("repotrectinib", "NTRK1", "p.Gly595Arg", "Drilon 2018: designed to overcome solvent-front mutations"),
    ("selpercatinib", "RET", "p.Val804Met", "Subbiah 2018: selective RET inhibitors keep activity on V804"),
    ("selpercatinib", "RET", "p.Leu730Val", "Shen 2021: selpercatinib inhibits L730V/I"),
    ("panitumumab", "EGFR", "p.Ser492Arg", "Montagut 2012: panitumumab still binds S492R"),
])
def test_target_mutations_the_drug_was_designed_to_overcome_are_not_mechanisms(drug, gene, hgvsp, why):
    res = classify(make_patient(drug, acquired_snv(gene, 1_000_000, hgvsp)))
    assert res.mechanisms["subclass"].tolist() == ["UNKNOWN"], why
    # still flagged: an acquired change in the drug's target the KB does not list
    assert res.alterations.set_index("gene").loc[gene, "resistance_relevance"] == "target_gene_unmatched"


# -- CDK4/6, PI3K-alpha, anti-HER2 -----------------------------------------------------------------------------
def test_rb1_deletion_is_bypass_on_palbociclib():
    # Condorelli 2018, O'Leary 2018: acquired RB1 loss removes the CDK4/6 dependency
    m = mechanisms("palbociclib", cn=copy_number("RB1", {"T-BL": 2.0, "T-PD": 0.0}, chrom="chr13", start=48303747))
    assert rows(m) == [["palbociclib", "bypass", "BYPASS_DOWNSTREAM", "RB1", "deep_deletion", "emerged"]]
    assert "29236940" in m["citation"].iloc[0]


def test_cdk4_6_amplifications():
    # Herrera-Abreu 2016: CCNE1 (cyclin E1-CDK2) bypass; Yang 2017: CDK6 amplification = target amplification
    m = mechanisms("ribociclib", cn=amplification("CCNE1", {"T-BL": 2.0, "T-PD": 10.0}))
    assert rows(m) == [["ribociclib", "bypass", "BYPASS_DOWNSTREAM", "CCNE1", "amplification", "emerged"]]
    m = mechanisms("abemaciclib", cn=amplification("CDK6", {"T-BL": 2.0, "T-PD": 10.0}))
    assert rows(m) == [["abemaciclib", "on_target", "ON_TARGET_AMP", "CDK6", "amplification", "emerged"]]
    assert "onc.2016.379" in m["citation"].iloc[0]


def test_fat1_truncation_is_bypass_on_abemaciclib():
    m = mechanisms("abemaciclib", snv=("FAT1", "p.Gln1102Ter", "stop_gained"))   # Li 2018
    assert rows(m)[0][:4] == ["abemaciclib", "bypass", "BYPASS_DOWNSTREAM", "FAT1"]


def test_pten_loss_on_alpelisib_fulvestrant_and_esr1_per_component():
    # Juric 2015, Razavi 2020: PTEN loss on alpelisib; ESR1 D538G belongs to fulvestrant (Toy 2013)
    m = mechanisms("alpelisib+fulvestrant", cn=copy_number("PTEN", {"T-BL": 2.0, "T-PD": 0.0}))
    assert rows(m) == [["alpelisib", "bypass", "BYPASS_DOWNSTREAM", "PTEN", "deep_deletion", "emerged"]]
    assert "nature13948" in m["citation"].iloc[0]
    m = mechanisms("alpelisib+fulvestrant", snv=("ESR1", "p.Asp538Gly", "missense_variant"))
    assert rows(m) == [["fulvestrant", "on_target", "ON_TARGET_MUT", "ESR1", "p.D538G", "emerged"]]


def test_pik3ca_activation_is_bypass_on_trastuzumab():
    m = mechanisms("trastuzumab", snv=("PIK3CA", "p.His1047Arg", "missense_variant"))   # Berns 2007
    assert rows(m) == [["trastuzumab", "bypass", "BYPASS_DOWNSTREAM", "PIK3CA", "p.H1047R", "emerged"]]
    # Xu 2017: L755S arose under lapatinib-containing regimens, not trastuzumab alone -> no trastuzumab row
    assert mechanisms("trastuzumab", snv=("ERBB2", "p.Leu755Ser", "missense_variant"))["subclass"].tolist() == [
        "UNKNOWN"]


# -- immunotherapy -------------------------------------------------------------------------------------------------
def test_b2m_and_jak_loss_is_immune_escape():
    # Zaretsky 2016: JAK1/JAK2 loss of function and B2M truncation on pembrolizumab
    m = mechanisms("pembrolizumab", cn=copy_number("B2M", {"T-BL": 2.0, "T-PD": 0.0}, chrom="chr15", start=44711487))
    assert rows(m) == [["pembrolizumab", "other", "IMMUNE_ESCAPE", "B2M", "deep_deletion", "emerged"]]
    m = mechanisms("nivolumab", snv=("JAK1", "p.Gln503Ter", "stop_gained"))
    assert rows(m) == [["nivolumab", "other", "IMMUNE_ESCAPE", "JAK1", "p.Q503*", "emerged"]]
    assert "27433843" in m["citation"].iloc[0]


# -- kinds the pipeline never emits ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["reversion", "splice_variant"])
def test_rows_with_undetectable_kinds_are_rejected(tmp_path, kind):
    d = tmp_path / "kb"
    shutil.copytree(default_kb_dir(), d)
    r = d / "resistance_alterations.tsv"
    r.write_text(r.read_text() + f"PARP inhibitor\tBRCA1\t{kind}\tPATHWAY_RESTORATION\tV\tx\ty\n")
    with pytest.raises(InputError, match="never emitted by the pipeline"):
        load_kb(d)


def test_shipped_kb_only_uses_emitted_kinds():
    kinds = {p for r in load_kb().rows for p in r.patterns if re.fullmatch(r"[a-z_]+", p)}
    assert kinds <= {"truncating", "mutation", "amplification", "fusion", "deletion"}


# -- the coverage table and the KB agree --------------------------------------------------------------------------
def _coverage_kb_cells() -> set[tuple[str, str, str]]:
    """(scope, gene, alteration) of every coverage-table cell that names a KB row (`KB: scope · gene · alteration`)."""
    return {tuple(x.strip() for x in m.groups())
            for m in re.finditer(r"`KB: ([^·`]+)·([^·`]+)·([^`]+)`", COVERAGE.read_text(encoding="utf-8"))}


def test_every_kb_row_is_in_the_coverage_table_and_back():
    kb = {(r.scope, r.gene, ",".join(r.patterns)) for r in load_kb().rows}
    cells = _coverage_kb_cells()
    assert not kb - cells, f"KB rows missing from docs/kb-coverage.md: {sorted(kb - cells)}"
    assert not cells - kb, f"coverage cells naming no KB row: {sorted(cells - kb)}"


def test_every_kb_row_cites_a_pmid_doi_or_pmc():
    ids = re.compile(r"PMIDs? \d{7,8}|doi:10\.\d{4,9}/\S+|PMC\d+")
    missing = [(r.scope, r.gene) for r in load_kb().rows if not ids.search(r.citation)]
    assert not missing, f"rows without PMID/DOI/PMC: {missing}"


def test_coverage_matcher_examples():
    """Matcher-level checks of context (resistance-biology.md §2 rule 1) for the new classes."""
    kb = load_kb()
    got = {m.drug: m.mechanism for m in kb.match(Alteration("CDK6", "amplification"),
                                                 resolve_regimen("palbociclib+letrozole"))}
    assert got == {"palbociclib": "ON_TARGET_AMP"}
