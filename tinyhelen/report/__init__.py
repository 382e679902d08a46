"""The report phase: one offline page that answers the paper's three questions from every stage's metrics.

    python -m stages.report --metrics metrics --out results/report

`sections/` holds one reader per stage (a registry: name -> function(metrics dir, context) -> Section or None),
`render.py` writes the page as self-contained HTML and as Markdown with PNG plots beside it, `provenance.py`
says under which experiment and params the numbers were made, `figures.py` draws the plots with one palette.
"""
