"""The model zoo: small, complete training scripts built on minigrad.

Run one with ``python -m models.<name>`` (``make train-<name>``); every model shares the
command line and the outputs of ``models.harness``. ``python -m models.run_all --quick`` runs
them all for a few seconds each (a smoke test); ``--check-targets`` trains the default
configurations and checks each model's accuracy target.
"""

try:  # the models draw pictures and progress bars: say which extras they need, not a bare ImportError
    import matplotlib  # noqa: F401
    import tqdm  # noqa: F401
except ImportError as _e:
    raise SystemExit(
        f"models/ needs {_e.name}: install the 'plot' and 'data' extras from the minigrad clone: "
        "pip install -e '.[data,plot]' (not `pip install minigrad`, an unrelated PyPI project), "
        "or run `make venv`"
    ) from None
