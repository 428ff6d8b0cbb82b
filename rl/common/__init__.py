"""The plumbing every RL algorithm file would otherwise copy: environments, buffers, returns,
evaluation, logging, seeding, checkpoints and the command line.

Each module is small and has one job; an algorithm file (``rl/<algo>.py``) imports what it needs
and keeps the algorithm itself readable top to bottom.
"""
