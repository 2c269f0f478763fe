"""`saturate fix` on an ONNX model: the remedies applied to a copy of the graph, measured and
run with onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import onnx

from saturate_cli.remedies.holdout import measure
from saturate_cli.remedies.onnx_edit import apply_suggestion, drop_unused
from saturate_cli.remedies.onnx_norm import insert_norm
from saturate_cli.remedies.onnx_recycle import recycle
from saturate_cli.remedies.options import NORM_REMEDIES, FixOptions
from saturate_cli.remedies.plan import init_std, tensors_of
from saturate_cli.remedies.unit_moments import unit_moments
from saturate_cli.model.onnx.handle import OnnxModel
from saturate_cli.report.model import Report, SiteReport


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


class OnnxBackend:
    """The model being fixed, with what the fix loop needs (see fix/loop.py)."""

    def __init__(self, handle: OnnxModel, settings, options: FixOptions):
        self.path, self.settings = Path(handle.path), settings
        self._handle = handle  # measured once as loaded, then as copies of the changed model
        self.providers = handle.runner.providers
        self.inputs = self._handle.inputs
        self.model = _copy(handle.whole_model())  # copied before measuring: If branches stay
        self.rng = np.random.default_rng(options.seed)
        self.renamed: dict = {}
        self._sessions: dict = {}

    def measure(self, batches: list, record: dict) -> Report:
        handle, self._handle = self._handle or OnnxModel(
            self.path, self.settings.memory_budget, self.settings.threads, self.providers,
            model=_copy(self.model)), None
        return measure(handle, str(self.path), self.settings, batches, record)

    def _session(self, model: onnx.ModelProto):
        import onnxruntime as ort

        key = model.SerializeToString()
        if key not in self._sessions:
            self._sessions = {key: ort.InferenceSession(key, providers=self.providers)}
        return self._sessions[key]

    def _feeds(self, batch: dict) -> dict:
        inits = {t.name for t in self.model.graph.initializer}
        return {i.name: batch[i.name] for i in self.model.graph.input
                if i.name not in inits and i.name in batch}

    def outputs(self, batch: dict) -> dict:
        """The model's outputs on one batch, by output name."""
        sess = self._session(self.model)
        names = [o.name for o in sess.get_outputs()]
        return {n: np.asarray(v, dtype=np.float64) for n, v in
                zip(names, sess.run(None, self._feeds(batch)))}

    def _site_values(self, tensor: str, batches: list):
        probe = _copy(self.model)
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(tensor))
        sess = self._session(probe)
        for batch in batches:
            yield sess.run([tensor], self._feeds(batch))[0]

    def apply(self, site: SiteReport, tip: dict, fit: list) -> Union[str, dict]:
        """Apply one remedy to the model; the change (tensors touched, numbers) or why not."""
        if tip["kind"] == "recycle":
            done = recycle(self.model, site, tip["units"], init_std(site), self.rng)
            return done if isinstance(done, str) else {"tensors": done, "std": init_std(site)}
        if tip["kind"] in NORM_REMEDIES:
            axis = site.saturation.get("unit_axis")
            if axis is None:
                return "the site has no unit axis to normalise"
            moments = unit_moments(self._site_values(site.input, fit), axis)
            return insert_norm(self.model, site.input, tip["kind"], tip["mode"], axis,
                               moments.rank, moments)
        why = apply_suggestion(self.model, site, tip)
        return why if why else {"tensors": tensors_of(site, tip)}

    def payload(self, output: Path) -> bytes:
        """The fixed model file."""
        out = _copy(self.model)
        drop_unused(out)
        return out.SerializeToString()
