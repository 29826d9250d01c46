"""``hearthcam config check``: the whole config as ``run`` would take it, model file included."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hearthcam.cli.common import cli, config_failed, fail, out
from hearthcam.config import BUILTIN_DETECTORS, Config, parse_config, read_document
from hearthcam.errors import ConfigError, ModelError

config_cli = typer.Typer(no_args_is_help=True, help="Configuration files.")
cli.add_typer(config_cli, name="config")


def _check_model(cfg: Config) -> None:
    """Loads a model file as start-up would (ONNX Runtime, the decoder's first run), so a file
    that is .onnx by name only fails here rather than when the server starts."""
    if cfg.detector.model in BUILTIN_DETECTORS:
        return  # packaged with hearthcam and tested with it
    from hearthcam.pipeline.detect import load_detector  # ONNX Runtime: only when needed

    load_detector(cfg.detector.model_copy(update={"threads": 1}))


@config_cli.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="YAML config file")]) -> None:
    """Validate a config file; every error names the key path and what was expected."""
    try:
        document = read_document(file)
        cfg = parse_config(document, str(file))
    except ConfigError as error:
        raise config_failed(error) from None
    try:
        _check_model(cfg)
    except ModelError as error:
        raise fail(f"{file}: {error}") from None
    # An empty file is what `run` accepts as "every default": valid, but say so, since an empty
    # file is as likely a mistake (the wrong file, a failed copy) as a choice.
    note = "empty: every default applies" if document is None else f"{len(cfg.cameras)} cameras"
    out.print(f"{file}: ok ({note})", highlight=False, markup=False, soft_wrap=True)
