"""Saving and loading a trained network safely: a state dict plus a JSON config.

``NAME.pt`` holds only the tensors (``torch.save(model.state_dict())``) and is read back
with ``torch.load(..., weights_only=True)``, which refuses arbitrary Python objects, so
opening a checkpoint cannot run code. ``NAME.json`` holds everything else (the model's
sizes to rebuild it, the classes, the standardisation, the training settings) as plain
JSON. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.engine.errors import InputError

from .models import ModelConfig, build_model

__all__ = ["save", "load", "SCHEMA"]

SCHEMA = "workbench.deep-fusion-checkpoint/1"


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save(folder: str | os.PathLike, name: str, model: nn.Module, cfg: ModelConfig,
         extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``folder/name.pt`` (state dict) and ``folder/name.json`` (config); return both paths.

    Each file is written to a temporary name and renamed, the JSON last.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pt, js = folder / f"{name}.pt", folder / f"{name}.json"
    tmp = pt.with_suffix(".pt.part")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, pt)
    doc = {"schema": SCHEMA, "model": cfg.to_dict(), "weights": pt.name, "torch": torch.__version__,
           **_plain(extra or {})}
    tmpj = js.with_suffix(".json.part")
    tmpj.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmpj, js)
    return pt, js


def load(folder: str | os.PathLike, name: str) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of ``folder/name.json`` and load its weights (``weights_only=True``).

    Returns ``(model in eval mode, the JSON document)``.
    """
    folder = Path(folder)
    js = folder / f"{name}.json"
    try:
        doc = json.loads(js.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(js, "checkpoint config not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(js, f"unreadable checkpoint config ({exc})") from None
    if doc.get("schema") != SCHEMA:
        raise InputError(js, f"not a deep-fusion checkpoint (schema {doc.get('schema')!r})")
    model = build_model(ModelConfig(**doc["model"]))
    pt = folder / doc["weights"]
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(pt, "checkpoint weights not found") from None
    except Exception as exc:  # noqa: BLE001 - a refused or corrupt file is this file's problem
        raise InputError(pt, f"not loadable as weights only ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:160]})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(pt, f"weights do not match the model in {js.name} ({str(exc).splitlines()[0]})") from None
    model.eval()
    return model, doc
