"""The ``driftd`` command line: option parsing over the library (driftd.api), nothing more."""

from __future__ import annotations

import sys

import click

from . import __version__
from .model import Verdict
from .output import dumps, report_json, report_table


@click.group()
@click.version_option(__version__, prog_name="driftd")
def main() -> None:
    """Drift detection and audit for GitOps-managed Tanzu / Cluster API clusters."""


@main.command()
@click.argument("desired", type=click.Path(dir_okay=True, exists=True))
@click.argument("live", type=click.Path(dir_okay=False, exists=True))
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--namespace", "-n", default=None, help="Namespace for Git objects that name none.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Take normalization and ignore settings from this config file.")
@click.option("--show-in-sync", is_flag=True, help="Also list objects that are in sync (table output).")
def diff(desired: str, live: str, output: str, namespace: str | None, config_path: str | None,
         show_in_sync: bool) -> None:
    """Compare a Git manifest (file or folder) with live objects (kubectl get -o yaml --show-managed-fields).

    Exit 0 in sync, 1 drift, 2 invalid input or error."""
    from .api import DiffInputError, diff_files

    try:
        result = diff_files(desired, live, namespace=namespace, config_path=config_path)
    except DiffInputError as exc:
        _fail(str(exc), output)
    if output == "json":
        click.echo(dumps(report_json(result)), nl=False)
    else:
        click.echo(report_table(result, show_in_sync=show_in_sync), nl=False)
    sys.exit(result.verdict.exit_code)


@main.command()
@click.option("--explain", "explain", default=None, help="Show one rule in full.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def profiles(explain: str | None, output: str) -> None:
    """List the built-in normalization rules (what driftd does not report as drift, and why)."""
    from .profiles import builtin_rules

    rules = [r.describe() for r in builtin_rules()]
    if explain:
        rules = [r for r in rules if r["name"] == explain]
        if not rules:
            raise click.ClickException(f"no rule named {explain!r}; `driftd profiles` lists them")
    if output == "json":
        click.echo(dumps({"rules": rules}), nl=False)
        return
    for r in rules:
        if explain:
            for k, v in r.items():
                click.echo(f"{k}: {v}")
        else:
            click.echo(f"{r['profile']:5} {r['name']:38} {r['action']:13} {', '.join(r['kinds'])[:60]}")


def _fail(message: str, output: str) -> None:
    if output == "json":
        click.echo(dumps({"version": 1, "verdict": Verdict.ERROR.value, "objects": [], "errors": [message]}), nl=False)
    click.echo(f"driftd: error: {message}", err=True)
    sys.exit(Verdict.ERROR.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
