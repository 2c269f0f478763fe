"""The options several commands share, declared once (typer `Annotated` types).

`inspect`, `fix`, `trend` and the other commands that run a model take the same calibration,
measurement and output options under the same names; their defaults come from settings.py.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from saturate_cli.settings import BATCH_WORKING_SET, DEFAULTS, SYNTHETIC_SAMPLES


def path_option(*names: str, **kwargs):
    """typer.Option for a Path-typed option: click itself turns the value into a Path, so
    ctx.params (which the commands read) holds a Path on every typer. typer 0.28 and older
    convert only the function's arguments; 0.29's pydantic conversion converted ctx.params too."""
    return typer.Option(*names, path_type=Path, **kwargs)


def path_argument(**kwargs):
    """typer.Argument for a Path-typed argument (see path_option)."""
    return typer.Argument(path_type=Path, **kwargs)


class Format(str, Enum):
    text = "text"
    json = "json"
    ndjson = "ndjson"
    sarif = "sarif"
    github = "github"
    gitlab = "gitlab"
    junit = "junit"
    markdown = "markdown"
    html = "html"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


class Synthetic(str, Enum):
    normal = "normal"
    uniform = "uniform"
    zeros = "zeros"


FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", envvar="SATURATE_FORMAT", help="Output format.")]
OutputOpt = Annotated[Optional[Path], path_option(
    "--output", "-o", help="Write the report here (only after the analysis succeeded).",
    dir_okay=False)]
FailOnOpt = Annotated[FailOn, typer.Option(
    "--fail-on", help="Exit 1 when a finding is at or above this severity.")]
ExitZeroOpt = Annotated[bool, typer.Option(
    "--exit-zero", help="Exit 0 even with findings (2 still means bad input).")]
CalibrationOpt = Annotated[Optional[List[Path]], path_option(
    "--calibration", "-c", help="Calibration data: .npy, .npz, .pt/.pth, ONNX .pb, a folder "
                                "of them (streamed) or of PNG/JPEG images; repeatable.")]
SyntheticOpt = Annotated[Synthetic, typer.Option(
    "--synthetic", help="Synthetic data when no --calibration is given.")]
InputShapeOpt = Annotated[Optional[List[str]], typer.Option(
    "--input-shape", help="Shape of a dynamic input, e.g. x=1x3x224x224; repeatable.")]
SamplesOpt = Annotated[Optional[int], typer.Option(
    "--samples", "-n", min=1, help="At most this many calibration samples (default: all of "
                                   f"the data given; {SYNTHETIC_SAMPLES} synthetic).",
    show_default=False)]
BatchSizeOpt = Annotated[int, typer.Option(
    "--batch-size", "-b", min=1,
    help=f"Samples per batch (default {DEFAULTS.batch_size}; for ONNX, halved while a batch's "
         f"largest activation input exceeds {BATCH_WORKING_SET >> 20} MiB).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for synthetic data.")]
IntRangeOpt = Annotated[Optional[str], typer.Option(
    "--int-range", help="Synthetic integer inputs from [LO, HI), e.g. 0,30522 (default: the "
                        "embedding table's rows).", show_default=False)]
MaskPaddingOpt = Annotated[bool, typer.Option(
    "--mask-padding", help="Synthetic attention masks get trailing zero padding per row.")]
MeanOpt = Annotated[Optional[str], typer.Option(
    "--mean", help="Image folders: per-channel mean (default: ImageNet 0.485,0.456,0.406).",
    show_default=False)]
StdOpt = Annotated[Optional[str], typer.Option(
    "--std", help="Image folders: per-channel std (default: ImageNet 0.229,0.224,0.225).",
    show_default=False)]
LayoutOpt = Annotated[Optional[str], typer.Option(
    "--layout", help="Image folders: auto (from the input shape), nchw or nhwc.",
    show_default=False)]
TauOpt = Annotated[float, typer.Option(
    "--tau", min=1e-6, max=0.5, help="Saturated where |f'| < tau * max|f'| (everywhere beyond).")]
SoftmaxTauOpt = Annotated[float, typer.Option(
    "--softmax-tau", min=1e-6, max=0.5,
    help="Softmax row collapsed when max probability > 1 - this.")]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=0,
                                         help="Intra-op threads (0: runtime default).")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="cpu or cuda (default: cpu).")]
MemoryBudgetOpt = Annotated[Optional[str], typer.Option(
    "--memory-budget", help="Refuse models/inputs needing more (default: half of RAM).")]
TrustPickleOpt = Annotated[bool, typer.Option(
    "--trust-pickle", help="Allow loading pickled PyTorch modules: this RUNS CODE from the "
                           "file. Only for files you trust.")]
WeightsOpt = Annotated[Optional[Path], path_option(
    "--weights", help="State dict (.pt/.pth/.safetensors) for a module:factory target.",
    dir_okay=False, show_default=False)]
FactoryArgOpt = Annotated[Optional[List[str]], typer.Option(
    "--arg", help="Keyword argument of a module:factory target, KEY=VALUE (Python literal or "
                  "text); repeatable.", show_default=False)]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar; the report, errors and -v's messages are "
                          "unchanged.")]
SelectOpt = Annotated[Optional[List[str]], typer.Option(
    "--select", help="Only these rules: codes or prefixes (SAT1 = SAT1xx), comma-separated or "
                     "repeated.", show_default=False)]
IgnoreOpt = Annotated[Optional[List[str]], typer.Option(
    "--ignore", help="Turn off these rules: codes or prefixes.", show_default=False)]
ConfigOpt = Annotated[Optional[Path], path_option(
    "--config", help="Use this config file (saturate.toml or a pyproject.toml with "
                     "[tool.saturate]) instead of searching upward from the current folder.",
    dir_okay=False, show_default=False)]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Full site names in the text table; say which config file is used "
                            "(on stderr).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
TextOpt = Annotated[Optional[Path], path_option(
    "--text", help="Text samples for a Hugging Face checkpoint folder: one per line, or .jsonl "
                   "(see --text-field); tokenized by the checkpoint's tokenizer.",
    dir_okay=False, show_default=False)]
TextFieldOpt = Annotated[Optional[str], typer.Option(
    "--text-field", help="The sample's key in a .jsonl --text file (default: text).",
    show_default=False)]
MaxLengthOpt = Annotated[Optional[int], typer.Option(
    "--max-length", min=1, help="--text samples truncated to this many tokens (default: 512, "
                                "and the model's own limit).", show_default=False)]
AttnOpt = Annotated[Optional[str], typer.Option(
    "--attn", help="Hugging Face checkpoints: attention implementation, eager (its softmax is "
                   "measured) or sdpa (default: the checkpoint's).", show_default=False)]

ShardOpt = Annotated[Optional[str], typer.Option(
    "--shard", help="Measure only shard K of N (K from 0: batches K, K+N, ...) and write its "
                    "partial report (JSON) for `saturate merge`.", show_default=False)]
WorkersOpt = Annotated[int, typer.Option(
    "--workers", min=0, help="Run the shards on a local Dask cluster of this many worker "
                             "processes (needs saturate-cli[dask]).")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="Run the shards on the Dask cluster at this address, one shard per "
                        "worker (needs saturate-cli[dask]).", show_default=False)]

# Option groups: (parameter name, option type, default). A command takes whole groups with
# @takes(...), so each option is declared once for every command that runs a model.
DATA = (("calibration", CalibrationOpt, None), ("synthetic", SyntheticOpt, Synthetic.normal),
        ("input_shape", InputShapeOpt, None), ("samples", SamplesOpt, DEFAULTS.samples),
        ("batch_size", BatchSizeOpt, DEFAULTS.batch_size), ("seed", SeedOpt, DEFAULTS.seed))
INPUTS = (("int_range", IntRangeOpt, None), ("mask_padding", MaskPaddingOpt, False),
          ("mean", MeanOpt, None), ("std", StdOpt, None), ("layout", LayoutOpt, None),
          ("text", TextOpt, None), ("text_field", TextFieldOpt, None),
          ("max_length", MaxLengthOpt, None), ("attn", AttnOpt, None))
MEASURE = (("tau", TauOpt, DEFAULTS.tau), ("softmax_tau", SoftmaxTauOpt, DEFAULTS.softmax_tau),
           ("threads", ThreadsOpt, 0), ("device", DeviceOpt, None),
           ("memory_budget", MemoryBudgetOpt, None))
CODE = (("trust_pickle", TrustPickleOpt, False), ("factory_arg", FactoryArgOpt, None))
PYTORCH = CODE + (("weights", WeightsOpt, None),)
ENGINE = (("shard", ShardOpt, None), ("workers", WorkersOpt, 0),
          ("scheduler", SchedulerOpt, None))
RULES = (("select", SelectOpt, None), ("ignore", IgnoreOpt, None))
RUN = (("quiet", QuietOpt, False), ("config", ConfigOpt, None), ("verbose", VerboseOpt, False),
       ("debug", DebugOpt, False))


def takes(*groups):
    """Add the groups' options to a command's signature (after its own parameters); the
    command receives them in **options and, like every command, reads ctx.params."""
    import inspect

    def decorate(command):
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
               if p.kind is not inspect.Parameter.VAR_KEYWORD]
        known = {p.name for p in own}
        extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                   annotation=kind)
                 for group in groups for name, kind, default in group if name not in known]
        command.__signature__ = inspect.Signature(own + extra)
        return command

    return decorate


__all__ = ["CODE", "DATA", "DEFAULTS", "ENGINE", "INPUTS", "MEASURE", "PYTORCH", "RULES", "RUN",
           "FailOn", "Format", "Synthetic", "path_argument", "path_option", "takes"]
