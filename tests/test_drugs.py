"""The drug table of the knowledge base (unlock_atlas.knowledge.drugs, resources/drugs.tsv).

Truth for targets and classes: the drugs' mechanisms of action as given in their FDA labels and
the drug classes of resistance-biology.md §3 (e.g. trametinib inhibits MEK1/MEK2 = MAP2K1/MAP2K2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unlock_atlas.errors import InputError
from unlock_atlas.knowledge import DRUG_COLUMNS, load_drugs, resolve_regimen

REQUIRED_DRUGS = """osimertinib gefitinib erlotinib afatinib dacomitinib amivantamab sotorasib adagrasib
dabrafenib vemurafenib encorafenib trametinib binimetinib cobimetinib cetuximab panitumumab crizotinib
alectinib brigatinib ceritinib lorlatinib capmatinib tepotinib savolitinib selpercatinib pralsetinib
entrectinib larotrectinib repotrectinib futibatinib pemigatinib erdafitinib lirafugratinib olaparib
rucaparib niraparib talazoparib pembrolizumab nivolumab atezolizumab durvalumab ipilimumab imatinib
abiraterone enzalutamide apalutamide fulvestrant elacestrant letrozole anastrozole trastuzumab alpelisib
everolimus platinum cisplatin carboplatin""".split()

#: drug → (class as named in resistance-biology.md §3 / the brief, target genes from the mechanism of action)
EXPECTED = {
    "osimertinib": ("EGFR TKI", ("EGFR",)),
    "gefitinib": ("EGFR TKI", ("EGFR",)),
    "sotorasib": ("KRAS G12C inhibitor", ("KRAS",)),
    "adagrasib": ("KRAS G12C inhibitor", ("KRAS",)),
    "dabrafenib": ("BRAF inhibitor", ("BRAF",)),
    "trametinib": ("MEK inhibitor", ("MAP2K1", "MAP2K2")),
    "cetuximab": ("anti-EGFR mAb", ("EGFR",)),
    "panitumumab": ("anti-EGFR mAb", ("EGFR",)),
    "alectinib": ("ALK TKI", ("ALK",)),
    "capmatinib": ("MET TKI", ("MET",)),
    "selpercatinib": ("RET inhibitor", ("RET",)),
    "lirafugratinib": ("FGFR inhibitor", ("FGFR2",)),
    "olaparib": ("PARP inhibitor", ("PARP1", "PARP2")),
    "pembrolizumab": ("anti-PD-(L)1", ("PDCD1",)),
    "atezolizumab": ("anti-PD-(L)1", ("CD274",)),
    "alpelisib": ("PI3K-alpha inhibitor", ("PIK3CA",)),
}


def test_table_covers_required_drugs_with_citations() -> None:
    drugs = load_drugs()
    missing = [d for d in REQUIRED_DRUGS if d not in drugs]
    assert not missing
    for d in drugs.values():
        assert re.search(r"\b(19|20)\d\d\b", d.citation), f"{d.name}: citation without a year"
        assert d.drug_class and d.source and d.target_role


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_class_and_targets(name: str) -> None:
    d = load_drugs()[name]
    assert (d.drug_class, d.targets) == EXPECTED[name]


def test_targeted_pathway_receptors_for_hormone_therapy() -> None:
    drugs = load_drugs()
    assert "ESR1" in drugs["letrozole"].targets and "ESR1" in drugs["fulvestrant"].targets
    assert "AR" in drugs["abiraterone"].targets and drugs["enzalutamide"].targets == ("AR",)
    assert drugs["cisplatin"].targets == ()  # chemotherapy: no gene target


def test_combination_resolution_is_case_and_space_tolerant() -> None:
    reg = resolve_regimen("  Dabrafenib +TRAMETINIB ")
    assert [d.name for d in reg.components] == ["dabrafenib", "trametinib"]
    assert reg.name == "dabrafenib+trametinib"
    assert reg.drug_class == "BRAF inhibitor + MEK inhibitor"
    assert reg.targets == ["BRAF", "MAP2K1", "MAP2K2"]
    # ordered unique union across components
    assert resolve_regimen("osimertinib+savolitinib").targets == ["EGFR", "MET"]
    assert resolve_regimen("pembrolizumab+nivolumab").drug_class == "anti-PD-(L)1"


def test_unknown_drug_message_lists_known_drugs() -> None:
    with pytest.raises(InputError) as exc:
        resolve_regimen("dabrafenib+tramatinib", file="patients.tsv", row=4)
    [p] = exc.value.problems
    assert (p.file, p.row, p.column) == ("patients.tsv", 4, "drug")
    assert "unknown drug 'tramatinib'" in p.message and "did you mean trametinib" in p.message
    assert "osimertinib" in p.fix and "sotorasib" in p.fix


@pytest.mark.parametrize("text, words", [("dabrafenib+", "empty component"), ("osimertinib+osimertinib", "appears twice"),
                                         ("", "no drug given")])
def test_malformed_regimens(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        resolve_regimen(text)


def _table(tmp_path: Path, rows: list[list[str]]) -> Path:
    p = tmp_path / "drugs.tsv"
    p.write_text("# comment\n" + "\n".join("\t".join(r) for r in [list(DRUG_COLUMNS), *rows]) + "\n")
    return p


def test_bad_table_rows_are_errors_naming_file_and_line(tmp_path: Path) -> None:
    ok = ["gefitinib", "EGFR TKI", "EGFR", "reversible", "NSCLC", "label", "IRESSA label 2003"]
    no_citation = ["erlotinib", "EGFR TKI", "EGFR", "reversible", "NSCLC", "label", ""]
    dup = list(ok)
    bad_gene = ["afatinib", "EGFR TKI", "egfr", "irreversible", "NSCLC", "label", "GILOTRIF label 2013"]
    path = _table(tmp_path, [ok, no_citation, dup, bad_gene])
    with pytest.raises(InputError) as exc:
        load_drugs(path)
    probs = {(p.row, p.column): p for p in exc.value.problems}
    assert all(p.file == str(path) for p in exc.value.problems)
    assert "empty citation" in probs[(4, "citation")].message
    assert "listed twice (first on line 3)" in probs[(5, "drug")].message
    assert "'egfr' is not an HGNC gene symbol" in probs[(6, "targets")].message


def test_packaged_table_problems_name_resources_drugs_tsv(tmp_path: Path, monkeypatch) -> None:
    import unlock_atlas.knowledge.drugs as mod

    root = tmp_path / "repo"
    (root / "resources").mkdir(parents=True)
    _table(root / "resources", [["gefitinib", "EGFR TKI", "EGFR", "reversible", "NSCLC", "label", ""]])
    monkeypatch.setattr(mod, "resources_dir", lambda: root / "resources")
    with pytest.raises(InputError) as exc:
        mod.load_drugs()
    [p] = exc.value.problems
    assert (p.file, p.row, p.column) == ("resources/drugs.tsv", 3, "citation")
