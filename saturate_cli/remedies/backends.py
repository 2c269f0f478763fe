"""The fix backend for a target: ONNX or PyTorch, from the loaded model's format."""

from __future__ import annotations

from saturate_cli.remedies.options import FixOptions


def backend_for(target: str, settings, options: FixOptions):
    """Load the target (format read from the content) and wrap it in its fix backend."""
    from saturate_cli.calibration.peek import record_peek
    from saturate_cli.model.load import load_model

    handle = load_model(target, settings, record_peek(settings))
    if handle.format == "onnx":
        from saturate_cli.remedies.onnx_backend import OnnxBackend

        return OnnxBackend(handle, settings, options)
    from saturate_cli.remedies.torch_backend import TorchBackend

    return TorchBackend(handle, target, settings, options)
