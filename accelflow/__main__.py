from accelflow.cli import entry

entry()
