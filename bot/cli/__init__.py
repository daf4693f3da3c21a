"""The `paperbot` command: builds objects from Settings and starts them; no business logic here (STYLE rule 1).

One module a purpose: `serving` (serve), `posting` (digest, recap), `lookup` (search), `data` (fetch, import, export,
db), `inbox` (the event inbox), `common` (what they share) and `params` (click types). This one gathers them
into the group and is the console script's entry.
"""

from __future__ import annotations

import sys

import click

from bot.cli.catchup import reconcile_command
from bot.cli.common import interrupted
from bot.cli.data import db, export_command, fetch, import_command
from bot.cli.inbox import inbox_command
from bot.cli.lookup import search_command
from bot.cli.params import QuietPipeGroup, reader_went_away
from bot.cli.posting import digest, recap
from bot.cli.serving import serve, start_bot

__all__ = ["cli", "main", "serve", "start_bot"]


@click.group(cls=QuietPipeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperbot")
def cli() -> None:
    """paperbot: the Hugging Face Daily Papers as your team's Slack reading room."""


for command in (
    serve,
    digest,
    recap,
    search_command,
    db,
    import_command,
    fetch,
    export_command,
    reconcile_command,
    inbox_command,
):
    cli.add_command(command)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or during, innermost last (each once)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit 0 (also when stdout's reader went away), 1 (a Failure), 2 (a usage error)
    or 130 (Ctrl-C)."""
    # Not standalone: click's own mode turns Ctrl-C into "Aborted!" and exit 1.
    try:
        code = cli.main(args=argv, prog_name="paperbot", standalone_mode=False)
        sys.stdout.flush()  # here, so a reader that went away is noticed below and not at exit
    except BrokenPipeError:
        reader_went_away()
    except click.Abort:  # what click makes of KeyboardInterrupt (and of EOF at a prompt)
        interrupted()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Ctrl-C inside a database driver call can surface as the driver's own error, the interrupt its context.
        if not any(isinstance(e, KeyboardInterrupt) for e in _chain(exc)):
            raise
        interrupted()
    # --help and --version end in click's Exit, which non-standalone mode hands back as the exit code.
    sys.exit(code if isinstance(code, int) else 0)
