"""The Cohort tab: subjects x steps of a ``workbench batch`` run; start, watch and cancel a batch."""

from .view import CohortTab

__all__ = ["CohortTab"]
