"""The resistance knowledge base (resources/kb/) and its matcher.

Truth: resistance-biology.md §2 (classification and its context rules) and §3/§3b (facts and
numbering traps), and the drugs' targets from their FDA labels (resources/drugs.tsv, tested in
test_drugs.py). Each test names the rule it checks.
"""

from __future__ import annotations

import shutil

import pytest

from unlock_atlas.errors import InputError
from unlock_atlas.knowledge import resolve_regimen
from unlock_atlas.knowledge.resistance import Alteration, default_kb_dir, load_kb


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def mech(kb, alt: Alteration, regimen: str) -> dict[str, str]:
    return {m.drug: m.mechanism for m in kb.match(alt, resolve_regimen(regimen))}


def mut(gene: str, change: str, csq: str = "missense_variant", numbering: str = "MANE") -> Alteration:
    return Alteration(gene, "mutation", change, csq, numbering)


def test_every_row_is_cited(kb):
    assert len(kb.rows) >= 60
    assert all(r.source and r.citation for r in kb.rows)


def test_kras_context(kb):
    """§2 rule 1: KRAS is by-pass on EGFR TKIs / anti-EGFR antibodies, on-target on G12C inhibitors."""
    assert mech(kb, mut("KRAS", "p.Gly12Asp"), "osimertinib") == {"osimertinib": "BYPASS_DOWNSTREAM"}
    assert mech(kb, mut("KRAS", "p.G12D"), "cetuximab") == {"cetuximab": "BYPASS_DOWNSTREAM"}
    assert mech(kb, mut("KRAS", "p.G12D"), "sotorasib") == {"sotorasib": "ON_TARGET_MUT"}
    assert mech(kb, mut("KRAS", "p.Y96D"), "adagrasib") == {"adagrasib": "ON_TARGET_MUT"}   # Awad 2021
    assert mech(kb, Alteration("KRAS", "amplification"), "sotorasib") == {"sotorasib": "ON_TARGET_AMP"}


def test_kras_codon_class(kb):
    """Any KRAS codon 12/13/61 change is by-pass on osimertinib (§3); other codons are not listed."""
    for change in ("p.G12C", "p.G12V", "p.G13D", "p.Q61H", "p.Q61L"):
        assert mech(kb, mut("KRAS", change), "osimertinib") == {"osimertinib": "BYPASS_DOWNSTREAM"}, change
    assert mech(kb, mut("KRAS", "p.K117N"), "osimertinib") == {}
    assert mech(kb, mut("KRAS", "p.G12="), "osimertinib") == {}
    hit = kb.match(mut("KRAS", "p.G12C"), resolve_regimen("osimertinib"))[0]
    assert hit.hotspot and "PMC9621058" in hit.citation


def test_met_amplification_context(kb):
    """§2 rule 1: MET amplification is by-pass on osimertinib, on-target on MET TKIs."""
    amp = Alteration("MET", "amplification")
    assert mech(kb, amp, "osimertinib") == {"osimertinib": "BYPASS_RTK"}
    assert mech(kb, amp, "capmatinib") == {"capmatinib": "ON_TARGET_AMP"}
    assert "Chmielecki" in kb.match(amp, resolve_regimen("osimertinib"))[0].citation


def test_target_amplification_is_on_target(kb):
    """§2 rule 2: amplification of the drug's own target counts as on-target (EGFR amp on osimertinib)."""
    assert mech(kb, Alteration("EGFR", "amplification"), "osimertinib") == {"osimertinib": "ON_TARGET_AMP"}


def test_combination_per_component(kb):
    """§2 rule 1: MAP2K1 is downstream of the BRAF inhibitor but the target of the MEK inhibitor."""
    assert mech(kb, mut("MAP2K1", "p.Cys121Ser"), "dabrafenib+trametinib") == {
        "dabrafenib": "BYPASS_DOWNSTREAM", "trametinib": "ON_TARGET_MUT"}
    assert mech(kb, mut("MAP2K1", "p.K57N"), "dabrafenib+trametinib") == {}


def test_egfr_on_target_mutations(kb):
    """§3: T790M on EGFR TKIs (Yu 2013), C797S on osimertinib (Chmielecki 2023)."""
    assert mech(kb, mut("EGFR", "p.Thr790Met"), "erlotinib") == {"erlotinib": "ON_TARGET_MUT"}
    assert mech(kb, mut("EGFR", "p.C797S"), "osimertinib") == {"osimertinib": "ON_TARGET_MUT"}
    assert mech(kb, mut("EGFR", "p.C797S"), "erlotinib") == {}


@pytest.mark.parametrize("gene", ["PTEN", "NF1"])
def test_truncating_tumour_suppressor_class(kb, gene):
    """§3: NF1/PTEN loss of function is by-pass on KRAS G12C inhibitors — any truncating variant."""
    for change, csq in (("p.R130*", "stop_gained"), ("p.E23Vfs*17", "frameshift_variant"), ("", "splice_donor_variant")):
        assert mech(kb, mut(gene, change, csq), "sotorasib") == {"sotorasib": "BYPASS_DOWNSTREAM"}, (change, csq)
    assert mech(kb, mut(gene, "p.R130Q"), "sotorasib") == {}


def test_nf2_truncating_on_lorlatinib(kb):
    """§3: NF2 loss of function is by-pass on lorlatinib (Recondo 2020)."""
    assert mech(kb, mut("NF2", "p.Q45*", "stop_gained"), "lorlatinib") == {"lorlatinib": "BYPASS_DOWNSTREAM"}


def test_fgfr2_numbering(kb):
    """§3b: FGFR2 kinase-domain residues are +1 on NM_022970 (IIIb); Facchinetti's V565 = MANE V564."""
    assert kb.normalise("FGFR2", "p.Val565Phe", "NM_022970.3") == "V564F"
    assert kb.normalise("FGFR2", "p.Gly647Ala", "NM_022970") == "G646A"   # the VEP example of §3b
    assert mech(kb, mut("FGFR2", "p.N550K", numbering="NM_022970"), "futibatinib") == {"futibatinib": "ON_TARGET_MUT"}
    with pytest.raises(InputError, match="numbering"):
        kb.normalise("FGFR2", "p.S252W", "NM_022970")      # before the IIIb/IIIc exon: no rule
    with pytest.raises(InputError, match="numbering"):
        kb.normalise("ROS1", "p.G2032R", "NM_002944")


def test_ar_legacy_aliases(kb):
    """§3b: older papers write AR T877A for T878A and F876L for F877L."""
    assert mech(kb, mut("AR", "T877A", numbering="legacy"), "abiraterone") == {"abiraterone": "ON_TARGET_MUT"}
    assert mech(kb, mut("AR", "p.F876L", numbering="legacy"), "enzalutamide") == {"enzalutamide": "ON_TARGET_MUT"}


def test_immune_escape_and_no_reversion_rows(kb):
    """§3: B2M truncation on anti-PD-1 (Zaretsky 2016). BRCA reversion rows were removed: the pipeline
    has no reversion detector (docs/kb-coverage.md), so nothing matches on olaparib."""
    assert mech(kb, mut("BRCA1", "p.E23Vfs*17", "frameshift_variant"), "olaparib") == {}
    assert mech(kb, mut("B2M", "p.L15fs", "frameshift_variant"), "pembrolizumab") == {"pembrolizumab": "IMMUNE_ESCAPE"}


def test_uncited_row_rejected(tmp_path):
    d = tmp_path / "kb"
    shutil.copytree(default_kb_dir(), d)
    p = d / "hotspots.tsv"
    p.write_text(p.read_text() + "EGFR\tG724\tNM_005228.5\t\t\n")
    with pytest.raises(InputError, match="empty source"):
        load_kb(d)
    shutil.copy(default_kb_dir() / "hotspots.tsv", p)
    r = d / "resistance_alterations.tsv"
    r.write_text(r.read_text() + "EGFR TKI\tEGFR\tT790*M\tON_TARGET_MUT\tV\tx\ty\n")
    with pytest.raises(InputError, match="not understood"):
        load_kb(d)


def test_genes_without_sequence(kb):
    """ERBB2, ROS1, FGFR1-3, ESR1 have no sequence in ../shared/data: their KB rules are tested here
    on protein changes only (§3: ERBB2 amp by-pass on EGFR TKIs; ROS1 G2032R on crizotinib (Lin 2021);
    ESR1 D538G on SERDs (Toy 2013))."""
    assert mech(kb, Alteration("ERBB2", "amplification"), "osimertinib") == {"osimertinib": "BYPASS_RTK"}
    assert mech(kb, mut("ROS1", "p.Gly2032Arg"), "crizotinib") == {"crizotinib": "ON_TARGET_MUT"}
    assert mech(kb, mut("ESR1", "p.D538G"), "fulvestrant") == {"fulvestrant": "ON_TARGET_MUT"}
    assert mech(kb, Alteration("FGFR3", "fusion"), "osimertinib") == {"osimertinib": "BYPASS_RTK"}
