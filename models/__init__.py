"""The model zoo: small, complete training scripts built on minigrad.

Run one with ``python -m models.<name>`` (``make train-<name>``); every model shares the
command line and the outputs of ``models.harness``. ``python -m models.run_all --quick`` runs
them all for a few seconds each (a smoke test); ``--check-targets`` trains the default
configurations and checks each model's accuracy target.
"""
