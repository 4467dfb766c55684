"""Evaluation: J&F metrics, prompts simulated as a user gives them, and track-and-score (on held-out
simulated time-lapses or against a given ground truth)."""
from .metrics import boundary_measure, j_and_f, region_similarity
from .prompts import PROMPT_KINDS, central_click, prompt_first_frame
from .scores import Score, format_table, mean_score
from .track_and_score import object_scores, simulated_benchmark, track_sequence

__all__ = [
    "PROMPT_KINDS", "Score", "boundary_measure", "central_click", "format_table", "j_and_f", "mean_score",
    "object_scores", "prompt_first_frame", "region_similarity", "simulated_benchmark", "track_sequence",
]
