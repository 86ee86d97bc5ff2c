"""Circuit documents in and out: the one codec (``codec``: JSON and msgpack, row and packed
form, content ids), validation with JSON pointers (``validate``, ``checks``,
``gate_rules``) and the packed form (``packed``). Builds on ``core``."""
