"""The ``cxroi`` command line: run, validate, demo, calibrate, batch, app, measure, report.

Every user error (a :class:`~cxroi.errors.CxroiError`, a bad option value, a full disk) is
printed as a plain message and exits with code 2; no traceback reaches the terminal. An
unexpected error (a bug) prints one line saying so and where its full traceback was written,
and exits 1; ``--debug`` shows the traceback instead. ``-v`` / ``-q`` set how much the
package's :mod:`logging` says on stderr.

One module per part: :mod:`~cxroi.cli.common` (the typer app, error handling, the result
payload) and :mod:`~cxroi.cli.commands` (the commands, registered on import).
"""

from cxroi.cli.commands import (
    app_command,
    batch,
    calibrate,
    demo,
    measure,
    report_command,
    run,
    validate,
)
from cxroi.cli.common import MAX_DRAWS, app, crash_log_dir, main, result_payload

__all__ = [
    "MAX_DRAWS", "app", "app_command", "batch", "calibrate", "crash_log_dir", "demo", "main",
    "measure", "report_command", "result_payload", "run", "validate",
]
