"""Helpers shared by the tests and the benchmarks (not part of the scripting API): small synthetic
images and videos with labels (``synthetic``), and the reference ``sam2`` package as an oracle
(``reference``: imports ``sam2`` only when a reference model is built)."""
