"""The ``driftd`` command line: option parsing over the library (driftd.api), nothing more."""

from __future__ import annotations

import logging
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
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Take normalization and ignore settings from this config file ($DRIFTD_CONFIG is not read).")
@click.option("--crd", "crd_paths", multiple=True, type=click.Path(exists=True),
              help="CustomResourceDefinition file or folder: its schema's list keys and free-form fields "
                   "(repeatable; a cycle reads them from the API server).")
@click.option("--show-in-sync", is_flag=True, help="Also list objects that are in sync (table output).")
def diff(desired: str, live: str, output: str, namespace: str | None, config_path: str | None,
         crd_paths: tuple[str, ...], show_in_sync: bool) -> None:
    """Compare a Git manifest (file or folder) with live objects (kubectl get -o yaml --show-managed-fields).

    Exit 0 in sync, 1 drift, 2 invalid input or error."""
    from .api import DiffInputError, diff_files
    from .config import ConfigError

    try:
        result = diff_files(desired, live, namespace=namespace, config_path=config_path, crd_paths=crd_paths)
    except DiffInputError as exc:
        _fail(str(exc), output)
    except ConfigError as exc:
        _fail(f"config: {exc}", output)
    if output == "json":
        click.echo(dumps(report_json(result)), nl=False)
    else:
        for notice in result.notices:
            click.echo(f"notice: {notice}")
        click.echo(report_table(result, show_in_sync=show_in_sync), nl=False)
    sys.exit(result.verdict.exit_code)


def _load_config(path: str):
    from .config import ConfigError, load_config_file

    try:
        return load_config_file(path)
    except ConfigError as exc:
        click.echo(f"driftd: config: {exc}", err=True)
        sys.exit(2)


config_option = click.option("--config", "-c", "config_path", default="/etc/driftd/config.yaml", show_default=True,
                             envvar="DRIFTD_CONFIG", type=click.Path(dir_okay=False),
                             help="The config file (env DRIFTD_CONFIG).")


@main.command()
@config_option
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--no-store", is_flag=True, help="Do not write the run to the audit trail.")
@click.option("--show-in-sync", is_flag=True, help="Also list objects that are in sync (table output).")
def check(config_path: str, output: str, no_store: bool, show_in_sync: bool) -> None:
    """Run one cycle now: compare every source with its cluster and record it.

    Exit 0 in sync, 1 drift, 2 error or invalid Git input (like terraform plan -detailed-exitcode)."""
    from . import logs
    from .api import check as run_check

    config = _load_config(config_path)
    # The report is the output; log lines go to stderr and only for warnings and errors.
    logs.configure(config.log_format if config.log_format != "auto" else "console", level=logging.WARNING)
    outcome = run_check(config, write=not no_store)
    if output == "json":
        click.echo(dumps(outcome.to_json()), nl=False)
    else:
        for run in outcome.runs:
            state = f"commit {run.commit[:12]}" if run.commit else "no commit"
            click.echo(f"source {run.source} -> cluster {run.cluster}: {state}{' (stale)' if run.stale else ''}")
            for notice in run.notices:
                click.echo(f"  notice: {notice}")
        click.echo(report_table(outcome.merged(), outcome.verdict, show_in_sync, outcome.errors()), nl=False)
        if outcome.alerts is not None:
            a = outcome.alerts
            click.echo(f"alerts: {a.delivered} delivered, {a.failed} failed (retried later), "
                       f"{a.given_up} given up, {a.waiting} waiting")
    # A receiver's failure is not the cluster's state: alerts never change the exit code.
    sys.exit(outcome.verdict.exit_code)


@main.command()
@config_option
def run(config_path: str) -> None:
    """Run the daemon: a cycle at start, then one every interval, until SIGTERM/SIGINT."""
    from . import logs
    from .daemon import Daemon

    config = _load_config(config_path)
    logs.configure(config.log_format)
    sys.exit(Daemon(config).run())


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
            raise click.BadParameter(f"no rule named {explain!r}; `driftd profiles` lists them",
                                     param_hint="--explain")
    if output == "json":
        click.echo(dumps({"rules": rules}), nl=False)
        return
    if explain:
        for k, v in rules[0].items():
            click.echo(f"{k}: {v}")
        return
    header = ("PROFILE", "RULE", "ACTION")
    widths = [max(len(h), *(len(r[k]) for r in rules)) for h, k in zip(header, ("profile", "name", "action"))]
    click.echo(" ".join(h.ljust(w) for h, w in zip(header, widths)) + " KINDS")
    for r in rules:
        cells = (r["profile"], r["name"], r["action"])
        click.echo(" ".join(c.ljust(w) for c, w in zip(cells, widths)) + f" {kinds_cell(r['kinds'])}")


def kinds_cell(kinds: list[str], width: int = 60) -> str:
    """As many whole kind names as fit in ``width``, then ``+N more`` (``--explain`` lists them all)."""
    shown: list[str] = []
    for i, kind in enumerate(kinds):
        rest = len(kinds) - i - 1
        candidate = ", ".join([*shown, kind]) + (f", +{rest} more" if rest else "")
        if shown and len(candidate) > width:
            return ", ".join(shown) + f", +{len(kinds) - len(shown)} more"
        shown.append(kind)
    return ", ".join(shown)


def _fail(message: str, output: str) -> None:
    if output == "json":
        click.echo(dumps({"version": 1, "verdict": Verdict.ERROR.value, "objects": [], "errors": [message]}), nl=False)
    click.echo(f"driftd: error: {message}", err=True)
    sys.exit(Verdict.ERROR.exit_code)


def _register_report() -> None:
    from .report import report_command

    main.add_command(report_command)


_register_report()

if __name__ == "__main__":  # pragma: no cover
    main()
