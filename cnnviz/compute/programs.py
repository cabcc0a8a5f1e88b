"""TorchScript programs as text: what an Opaque layer (core/layers/opaque.py) holds.

``encode`` turns a module into ``torch.jit.save`` bytes in base64 (TorchScript:
``torch.jit.script``, else ``torch.jit.trace`` on an example input);
``load_program`` reads it back with ``torch.jit.load``, which runs no Python
code from the text, only TorchScript's own interpreter.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import warnings

import torch
from torch import nn


class ProgramError(ValueError):
    """A module that cannot become a program, or text that is not one; one line."""


@contextlib.contextmanager
def _quiet():
    """torch deprecates TorchScript and warns on every trace; the programs are still it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def compile_module(
    module: nn.Module, example: torch.Tensor, *, allow_trace: bool = True
) -> torch.jit.ScriptModule:
    """``module`` as TorchScript: scripted where it can be (its code, control flow
    included), else traced on ``example`` (unless ``allow_trace`` is off: a trace
    keeps only the path this input took); ProgramError saying why not."""
    module.eval()
    with _quiet():
        try:
            return torch.jit.script(module)
        except Exception as exc:  # (TorchScript rejects Python in many ways)
            why_not_script = (str(exc).strip().splitlines() or [""])[0][:120]
        if not allow_trace:
            raise ProgramError(f"torch.jit.script cannot compile it ({why_not_script})")
        try:
            with torch.no_grad():
                return torch.jit.trace(module, example.clone(), check_trace=False)
        except Exception as exc:  # (the module's own code may raise anything)
            raise ProgramError(
                f"neither torch.jit.script ({why_not_script}) nor torch.jit.trace "
                f"({type(exc).__name__}: {str(exc).strip()[:120]}) can compile it"
            ) from None


def encode(program: torch.jit.ScriptModule) -> str:
    """The program's archive, weights included, as base64 text."""
    buffer = io.BytesIO()
    with _quiet():
        torch.jit.save(program, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


INNER = "program"


def _drop_inner(module, state: dict, prefix: str, _metadata) -> None:
    """state_dict: the program's keys without ``program.`` (``5.weight``)."""
    inner = f"{prefix}{INNER}."
    for key in [k for k in state if k.startswith(inner)]:
        state[prefix + key[len(inner) :]] = state.pop(key)


def _add_inner(module, state: dict, prefix: str, *_args) -> None:
    """load_state_dict: ``5.weight`` goes to the program's ``weight``."""
    own = {f"{prefix}{key}" for key in module.program.state_dict()}
    for key in [k for k in state if k in own]:
        state[f"{prefix}{INNER}.{key[len(prefix) :]}"] = state.pop(key)


class Opaque(nn.Module):
    """Runs an imported part cnnviz cannot express (its TorchScript ``program``).

    A Python module around it, named after the layer type: a ScriptModule takes
    no forward hooks, and cnnviz names each layer's output by its module's class.
    Its state_dict keys are the program's own (``weight``, ``fc.bias``), as in
    the model it was imported from, not ``program.weight``."""

    def __init__(self, program: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.program = program
        self._register_state_dict_hook(_drop_inner)
        self._register_load_state_dict_pre_hook(_add_inner, with_module=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.program(x)


def load_program(text: str) -> nn.Module:
    """The module of base64 TorchScript text, on the CPU, in eval mode."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProgramError("its program is not base64 text") from None
    try:
        with _quiet():
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:  # (torch's many archive errors)
        raise ProgramError(
            f"its program is not a TorchScript archive ({type(exc).__name__})"
        ) from None
    return Opaque(module).eval()
