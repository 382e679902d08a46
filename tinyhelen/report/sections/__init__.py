"""One reader per stage for the report (registered in `tinyhelen.report.registry`)."""
