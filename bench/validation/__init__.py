"""Validation against peer simulators (SCALE-Sim; STONNE data in stonne.csv)."""
