"""NOT RUN YET — skeleton of the Must-show accuracy benchmark (issue 3). No figures exist.

Plan (each step is the real tool, nothing invented):
1. For each depth in (500, 2000, 5000) x VAF in (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
   plant N SNVs/indels into copies of the real GRCh38 panel regions (/work/shared/data), simulate
   reads with `art_illumina -ss HS25 -p -l 150 -m 200 -s 30` (apt: art-nextgen-simulation-tools)
   separately from the reference and the mutated haplotype, mixed at the VAF.
2. Align with pybwa, sort/markdup with pysam.samtools, lift to chromosomes (unlock_atlas.align).
3. Call with unlock_atlas.calling.call_patient (sample + a variant-free normal simulated the same way)
   and with `bcftools mpileup -d 100000 -q 20 -Q 20 -a AD,ADF,ADR | bcftools call -mv`.
4. Sensitivity = planted alleles `called` / planted; FP per Mb over >= 3 Mb of variant-free plasma
   with a Poisson (Garwood) 95 % interval; measured per-base error rate = non-carrier mismatches /
   informative bases; perfect caller = P(Binomial(depth, vaf) >= k*) where k* is the smallest count
   with P(Binomial(depth, err) >= k*) * positions <= the same FP budget.
"""

raise SystemExit("benchmarks/calling/accuracy.py is a skeleton and has not been run; see its docstring")
