"""`saturate fix` on a PyTorch model (factory + state dict, pickled module, TorchScript, .pt2):
the remedies applied to the loaded module's parameters (or its module tree), measured with the
torch capture, run in eager torch."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import torch

from saturate_cli.remedies import recycle_math, torch_graph, torch_norm, torch_params
from saturate_cli.remedies.holdout import measure
from saturate_cli.remedies.options import NORM_REMEDIES, FixOptions
from saturate_cli.remedies.plan import init_std, tensors_of
from saturate_cli.remedies.unit_moments import unit_moments
from saturate_cli.report.model import Report, SiteReport


class TorchBackend:
    """The model being fixed, with what the fix loop needs (see fix/loop.py)."""

    def __init__(self, handle, target: str, settings, options: FixOptions):
        self.target, self.settings = target, settings
        self.handle = handle
        self.module = torch_params.module_of(self.handle)
        self.inputs = self.handle.inputs
        self.rng = np.random.default_rng(options.seed)
        self.renamed: dict = {}
        self.code_changes: list = []  # what the user must change in the factory's code

    def measure(self, batches: list, record: dict) -> Report:
        return measure(self.handle, self.target, self.settings, batches, record)

    def outputs(self, batch: dict) -> dict:
        from saturate_cli.remedies.proof import flatten_outputs

        return flatten_outputs(torch_params.run(self.handle, self.module, batch))

    def apply(self, site: SiteReport, tip: dict, fit: list) -> Union[str, dict]:
        """Apply one remedy; the change (tensors touched, numbers) or why not."""
        if tip["kind"] == "recycle":
            return self._recycle(site, tip["units"], fit)
        if tip["kind"] in NORM_REMEDIES:
            return self._insert_norm(site, tip, fit)
        return self._parameters(site, tip)

    def _parameters(self, site: SiteReport, tip: dict) -> Union[str, dict]:
        if site.producer is None:
            return "no producing layer found"
        names = tensors_of(site, tip)
        missing = [n for n in names if torch_params.tensor(self.module, n) is None]
        if not names or missing:
            return f"parameter(s) not found in the model: {', '.join(missing) or 'none named'}"
        tied = sorted({p for p, _ in site.producer.get("shared_with") or ()} & set(names))
        if tied:
            return f"{', '.join(tied)} is shared with other layers: untie it first"
        if tip["kind"] == "shift_bias":
            (bias,) = names[-1:]
            value = torch_params.read(self.module, bias).reshape(-1)
            if "units" in tip:
                value[tip["units"]] += tip["amounts"]
            else:
                value += tip["amount"]
            torch_params.write(self.module, bias, value)
        else:
            for name in names:
                torch_params.write(self.module, name,
                                   torch_params.read(self.module, name) * tip["factor"])
        return {"tensors": names}

    def _consumers(self, weight: str, fit: list):
        """The layers the units feed: from the TorchScript run, else from a torch.fx graph."""
        if self.handle.format == "torchscript":
            from saturate_cli.remedies.torch_script_lineage import script_consumers

            return script_consumers(self.module, weight, lambda: torch_params.run(
                self.handle, self.module, fit[0]))
        gm = torch_graph.trace(self.module)
        return gm if isinstance(gm, str) else torch_graph.consumers(gm, weight)

    def _recycle(self, site: SiteReport, units: list, fit: list) -> Union[str, dict]:
        producer = site.producer or {}
        weight = producer.get("weight")
        if not weight or torch_params.tensor(self.module, weight) is None:
            return "no producing layer found"
        if producer.get("op", "").startswith("ConvTranspose"):
            return "transposed convolutions are not recycled"
        reached = self._consumers(weight, fit)
        if isinstance(reached, str):
            return reached
        std = init_std(site)
        w = torch_params.read(self.module, weight)
        torch_params.write(self.module, weight, recycle_math.redraw(w, units, 0, std, self.rng))
        touched = [weight] + self._reset_units(producer, units)
        for name, flat in reached:
            c = torch_params.read(self.module, name)
            per = max(1, c.shape[1] // w.shape[0]) if flat else 1
            torch_params.write(self.module, name, recycle_math.zero_inputs(c, units, 1, per))
            touched.append(name)
        return {"tensors": touched, "std": std}

    def _reset_units(self, producer: dict, units: list) -> list:
        """Bias 0; a norm in between back to its initial state for those units."""
        values = [(producer.get("bias"), 0.0)]
        norm = producer.get("norm")
        if norm:
            values += [(f"{norm}.weight", 1.0), (f"{norm}.bias", 0.0),
                       (f"{norm}.running_mean", 0.0), (f"{norm}.running_var", 1.0)]
        done = []
        for name, value in values:
            if name and torch_params.tensor(self.module, name) is not None:
                old = torch_params.read(self.module, name)
                torch_params.write(self.module, name, recycle_math.set_units(old, units, value))
                done.append(name)
        return done

    def _insert_norm(self, site: SiteReport, tip: dict, fit: list) -> Union[str, dict]:
        if tip["kind"] == "insert_layernorm" and tip["mode"] == "preserve":
            return ("LayerNorm normalises each row by its own statistics, so no gamma and beta "
                    "make it an identity; use --norm normalize")
        found = torch_norm.activation_module(self.module, site.name, self.handle.format, tip)
        if isinstance(found, str):
            return found
        parent, leaf, act = found
        axis = site.saturation.get("unit_axis")
        if axis is None:
            return "the site has no unit axis to normalise"
        moments = unit_moments(torch_norm.site_inputs(
            act, lambda b: torch_params.run(self.handle, self.module, b), fit), axis)
        norm = torch_norm.build_norm(tip, tip["mode"], moments).to(self.handle.device)
        setattr(parent, leaf, torch.nn.Sequential(norm, act))
        self._reload()
        self.renamed[site.name] = f"{site.name}.1"
        if self.handle.format == "pytorch":
            self.code_changes.append(f"{site.name}: replace it by nn.Sequential(nn."
                                     f"{type(norm).__name__}({moments.mean.shape[0]}), "
                                     f"{type(act).__name__}()) in the factory")
        return {"tensors": [f"{site.name}.0.weight", f"{site.name}.0.bias"],
                "node": f"{site.name}.0", "mode": tip["mode"], "mean": moments.mean,
                "std": np.sqrt(moments.var)}

    def _reload(self) -> None:
        """A fresh capture of the changed module tree (its sites have new paths)."""
        from saturate_cli.model.torch.capture import EagerCapture
        from saturate_cli.model.torch.handle import TorchModel

        old = self.handle
        self.handle = TorchModel(old.path, old.format, EagerCapture(self.module), old.inputs,
                                 old.device, getattr(old, "keywords", ()), old.sha256)

    def payload(self, output: Path) -> bytes:
        return torch_params.payload(self.handle, self.module, self.settings, output)
