"""The `report:` params section (stage `report`): which sections the page shows and how numbers print."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr, field_validator

from tinyhelen.core.config import NonNegInt, Section

SectionName = Literal["corpus", "pretrain", "glue", "probe", "leaner_eval", "curriculum"]


class ReportConfig(Section):
    """The report stage: one offline page (results/report/index.html + README.md) over every stage's metrics."""

    title: StrictStr
    """The page title."""
    sections: Annotated[list[SectionName], Field(min_length=1)]
    """Sections to build, in page order; a section whose stage has not run is omitted with a note."""
    digits: Annotated[NonNegInt, Field(le=6)]
    """Decimals for losses, rates and other fractional numbers (GLUE scores print x 100 with one decimal)."""
    interval: Annotated[float, Field(gt=0.0, lt=1.0)]
    """Confidence level of the intervals the report computes itself (Student t over seeds), e.g. 0.95."""
    seed_band: Literal["std", "range"]
    """Band drawn around the mean loss curve when several pretraining seeds ran: mean ± std, or min..max."""
    params: Literal["changed", "full"]
    """Params shown on the page: only those that differ from params.yaml at git HEAD (the experiment's
    baseline), or every key (the changed ones are marked either way)."""
    dpi: Annotated[NonNegInt, Field(ge=50, le=300)]
    """Resolution of the embedded PNG plots."""

    @field_validator("sections")
    @classmethod
    def _unique_sections(cls, value: list[str]) -> list[str]:
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"lists {duplicates} more than once")
        return value
