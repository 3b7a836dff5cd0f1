"""The ``yilian`` command line.

Each sub-command lives in its own module under :mod:`node.commands` and
exposes a ``command`` (a click command); this module discovers them, so adding
a command never touches this file. Command modules import heavy dependencies
inside their functions, so ``yilian --help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

import node
import node.commands
from node.errors import YilianError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(node.__version__, prog_name="yilian")
def cli() -> None:
    """YiLian Chain: a consortium blockchain for public-resource trading centers."""


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(node.commands.__path__), key=lambda info: info.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"node.commands.{module_info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code.

    Errors of the :class:`~node.errors.YilianError` family are printed as one
    clear line (no traceback) and exit with status 1.
    """
    try:
        result = cli.main(args=argv, prog_name="yilian", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except YilianError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
