"""Building circuits: the array-level ``builder``, Python expressions (``expr``, lowered by
``lowering``), the text expression language (``parser``) and example circuits
(``generate``). Builds on ``core``."""
