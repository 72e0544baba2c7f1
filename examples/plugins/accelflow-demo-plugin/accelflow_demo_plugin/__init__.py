"""A worked example of an out-of-tree accelflow plugin (docs/extending.md).

Two passes, declared as `accelflow.passes` entry points in this distribution's pyproject.toml,
and an accelerator family, an `accelflow.architectures` entry point:

- `demo-force-dataflow{dataflow=os}` (accel, mapping level): gives every mapped layer another
  dataflow, keeping its tiles and loop order (demo_force_dataflow.py);
- `demo-count-instructions` (accel_isa): annotates every `accel_isa.layer` with how many loads,
  computes and stores its program has (demo_count_instructions.py);
- `dotprod` (an accelerator family): lanes of dot-product units, with its own target fields
  `lanes` and `vector_width` (dotprod.py; a target: targets/dotprod-16.yaml).

Nothing here is imported by accelflow until a pipeline names one of the passes or accelflow
lists its accelerator families.
"""
