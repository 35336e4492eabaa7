"""Finding a layout: location models on the project's travel times, and choosing by simulation.

- ``matrix``: sparse site x demand cost matrices (from the oracle, a dense array or a CSV).
- ``models``: MCLP, LSCP, p-median, p-center, fair and capacitated covering, solved by HiGHS.
- ``candidates``: candidate sites (filtered road nodes or a CSV) and the demand points.
- ``selection``: Kim-Nelson fully sequential ranking and selection with common random numbers.
"""
