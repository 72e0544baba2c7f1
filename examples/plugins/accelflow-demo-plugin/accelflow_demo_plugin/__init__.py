"""A worked example of an out-of-tree accelflow plugin (docs/extending.md).

Two passes, declared as `accelflow.passes` entry points in this distribution's pyproject.toml:

- `demo-force-dataflow{dataflow=os}` (accel, mapping level): gives every mapped layer another
  dataflow, keeping its tiles and loop order (demo_force_dataflow.py);
- `demo-count-instructions` (accel_isa): annotates every `accel_isa.layer` with how many loads,
  computes and stores its program has (demo_count_instructions.py).

Nothing here is imported by accelflow until a pipeline names one of the passes.
"""
