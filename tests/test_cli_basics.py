import subprocess
import sys

from lrscan import __version__


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lrscan", *args], capture_output=True, text=True, **kw)


def test_version_flag_prints_package_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"lrscan {__version__}"


def test_unknown_command_is_a_usage_error_without_traceback():
    r = run_cli("no-such-command")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_typer_exit_code_reaches_the_shell():
    # a command that raises typer.Exit(code=4) must exit 4, not 0 (standalone_mode=False returns it)
    code = (
        "import sys, typer\n"
        "from lrscan import cli\n"
        "@cli.app.command('exit-four')\n"
        "def _e():\n"
        "    raise typer.Exit(code=4)\n"
        "cli.main(['exit-four'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 4, r.stderr
