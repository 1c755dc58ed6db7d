"""The command line, in process: `cli('run', '--quick', ...)` as `mnist-report run --quick ...` would run it."""
import contextlib
import io

from mnist_report.cli import main


def cli(*argv) -> tuple[int, str, str]:
    "`mnist-report ARGV` (any argument, converted with str): its exit code, standard output and standard error."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(map(str, argv)))
    return code, out.getvalue(), err.getvalue()
