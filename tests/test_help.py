"""Every command's --help: no empty help, nothing swallowed or cut off, defaults and env vars shown.

The help is click's plain layout (cli.py: rich_markup_mode=None): rich markup
swallowed "[default …]" texts, and rich's option table cut long words and
Chinese short with "…" at 80 columns.
"""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from gkextract.cli import app

runner = CliRunner()
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)   # type: ignore[attr-defined]


def squash(text: str) -> str:
    """Without whitespace: help wraps anywhere."""
    return "".join(text.split())


@pytest.mark.parametrize("width", ["80", "120"])
@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_every_option_whole(name: str, width: str) -> None:
    command = GROUP.commands[name]   # type: ignore[attr-defined]
    res = runner.invoke(app, [name, "--help"], env={"COLUMNS": width, "TERMINAL_WIDTH": width})
    assert res.exit_code == 0, res.output
    out = squash(res.stdout)
    assert (command.help or "").strip(), f"{name} has no help"
    assert squash(command.help.split("\n\n")[0]) in out
    for param in command.params:
        if param.name == "help":
            continue
        text = getattr(param, "help", None) or ""
        assert text.strip(), f"{name} {param.name}: empty help"
        assert squash(text) in out, f"{name} {param.name}: help not shown whole: {text!r}"
        if isinstance(param, click.Option) and param.envvar:
            assert squash(f"[env var: {param.envvar}") in out, f"{name} {param.name}"
        if isinstance(param, click.Option) and param.show_default and param.default not in (None, False, ()):
            default = getattr(param.default, "value", param.default)
            assert squash(f"default: {default}]") in out, f"{name} {param.name}: default {default} not shown"
    assert "[/]" not in res.stdout and "\\[" not in res.stdout, f"{name}: markup shown raw"


def test_defaults_and_environment_of_the_llm_options_are_shown() -> None:
    res = runner.invoke(app, ["extract", "--help"], env={"COLUMNS": "200"})
    out = squash(res.stdout)
    for expected in ("Modelname.[envvar:GKEXTRACT_MODEL;config:model;default:gpt-4o-mini]",
                     "Requestsinflight.[envvar:GKEXTRACT_CONCURRENCY;config:concurrency;default:8]",
                     "TOMLconfigfile.[envvar:GKEXTRACT_CONFIG;default:~/.config/gkextract/config.toml]",
                     "[envvar:OPENAI_BASE_URL;config:base_url;default:theOpenAIAPI]",
                     "[config:mode;default:live]", "[envvar:GKEXTRACT_CSV_ENCODING;default:utf-8-sig]",
                     "pipinstall'gkextract[local]'"):
        assert expected in out, expected
    for swallowed in ("Model name .", "Requests in flight .", "TOML config file .", "OpenAI-compatible endpoint ."):
        assert swallowed not in res.stdout


def test_query_commands_do_not_promise_to_create_the_database() -> None:
    for name in ("reports", "problems", "summary", "extract", "review", "export"):
        out = squash(runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"}).stdout)
        assert "databasefile(createdifmissing)" not in out and "exit3ifthereisnone" in out, name
    for name in ("ingest", "run"):
        out = squash(runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"}).stdout)
        assert "databasefile(createdifmissing)" in out, name
