"""Parity with the official RAG-Gesture code, on any CPU.

The golden tensors (`shared/parity/`, HARNESS_NOTES.md) were recorded by the official code on
one machine. float32 results depend on the CPU's kernels (AVX-512 and AVX2 sum in other
orders), so no fixed tolerance is right everywhere. Instead every recorded tensor is held to
its own float32 noise floor, measured on the running machine (criterion.py); schedules,
respacing, masks and index maps are compared exactly, because they are exact on any CPU.

- fixtures.py: read a fixture folder (golden tensors + the small model they came from).
- criterion.py: the rule `error <= K * floor + ABS_FLOOR` and the one-ulp nudges.
- computations.py: how each golden entry is recomputed, per compute path.
- report.py: `rag-gesture parity-report`, the per-entry margins on this machine.
- make_fixtures.py: a fixture set in the same format from another configuration and seed.
"""
