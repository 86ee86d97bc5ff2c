"""The circuit IR (``circuit``), the op table (``ops``), the language derivative rules are
written in (``templates``) and the measures of circuit-format.md (``measures``).
Everything else in the engine builds on this; it imports only ``engine.errors``."""
