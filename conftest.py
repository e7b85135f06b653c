"""pytest set-up for the notebooks: nbval compares outputs after sanitizing them.

`notebooks/sanitize.cfg` lists the regexes that mask what differs between machines and runs
(seconds, progress-bar rates, memory addresses, paths); the notebooks assert their own
numerical claims, so masked numbers are still checked.
"""

from pathlib import Path

SANITIZE = Path(__file__).parent / "notebooks" / "sanitize.cfg"


def pytest_configure(config):
    opt = config.option
    if hasattr(opt, "nbval_sanitize_with") and not opt.nbval_sanitize_with:
        opt.nbval_sanitize_with = str(SANITIZE)
    if hasattr(opt, "nbval_current_env"):
        opt.nbval_current_env = (
            True  # run notebooks in this interpreter, whatever kernels are installed
        )
