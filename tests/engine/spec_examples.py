"""The example documents of circuit-format.md, verbatim, for the codec and validation tests."""

import orjson

# equation (1) of the lecture, exactly as the spec writes it
EQ1_JSON = b"""{
  "format": "circuitgrad.circuit/1",
  "inputs": ["x", "y", "z"],
  "gates": [
    {"op": "const", "value": 1},
    {"op": "add", "args": [0, 1, 2, 3], "coeffs": [1, -3, -3, 5]},
    {"op": "add", "args": [0, 1, 2], "coeffs": [1, -2, -2]},
    {"op": "add", "args": [0, 1, 2, 3], "coeffs": [1, 1, -5, -3]},
    {"op": "square", "args": [4]},
    {"op": "square", "args": [5]},
    {"op": "square", "args": [6]},
    {"op": "add", "args": [7, 8, 9], "name": "f"}
  ],
  "outputs": [10],
  "output_names": ["f"]
}"""
EQ1 = orjson.loads(EQ1_JSON)  # copy before changing it
