"""Evaluating circuits at points: lowering to a tape (``tape``) run by kernels generated
from the op table (``kernels``); ``evaluate`` is the entry point and ``evaluate_reference``
the plain NumPy reference. Builds on ``core``."""
