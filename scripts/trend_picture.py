"""Make docs/trend.png: `saturate trend` over checkpoints of a real training run, as HTML,
photographed with headless Chromium.

    python scripts/trend_picture.py [--out docs/trend.png] [--keep DIR]

A three-layer tanh/sigmoid MLP learns a sharp classification; its middle layer learns 80x
faster than the rest, so its weights grow and its sigmoid's input widens (scale drift) while
the layers around it stay healthy. Seven state dicts over 600 steps go through
`saturate trend models.py:build --weights ... --calibration calib.npy -f html`; the page is
screenshotted (`chromium --headless --screenshot`) and reduced to a small palette PNG.
Needs torch, Pillow and chromium (`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = '''
import torch
from torch import nn


def build():
    torch.manual_seed(2)
    return nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Sigmoid(),
                         nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 1))
'''
CHECKPOINTS, STEPS = 7, 600


def train(folder: Path) -> list[Path]:
    import numpy as np
    import torch

    namespace: dict = {}
    exec(compile(MODEL, "models.py", "exec"), namespace)
    net = namespace["build"]().train()
    g = torch.Generator().manual_seed(0)
    direction = torch.randn(16, generator=g)
    fast = list(net[2].parameters())
    slow = [p for p in net.parameters() if all(p is not q for q in fast)]
    opt = torch.optim.SGD([{"params": fast, "lr": 4.0}, {"params": slow, "lr": 0.05}])
    paths = []
    every = STEPS // (CHECKPOINTS - 1)
    for step in range(STEPS + 1):
        if step % every == 0:
            paths.append(folder / f"step_{step}.pt")
            torch.save(net.state_dict(), paths[-1])
        x = torch.randn(64, 16, generator=g)
        y = (x @ direction > 0).float()[:, None]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.save(folder / "calib.npy", np.random.default_rng(1).normal(size=(512, 16))
            .astype(np.float32))
    (folder / "models.py").write_text(MODEL)
    return paths


def photograph(page: Path, out: Path) -> None:
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or \
        shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    raw = page.with_suffix(".png")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=1120,1500",
                    f"--screenshot={raw}", page.as_uri()], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    image = Image.open(raw).convert("RGB")
    box = image.point(lambda v: 255 - v).convert("L").getbbox()  # trim the white margin
    image = image.crop((0, 0, image.width, min(image.height, (box[3] if box else
                                                               image.height) + 12)))
    image.quantize(colors=64).save(out, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "trend.png")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run's files here")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="trend-picture-"))
    folder.mkdir(parents=True, exist_ok=True)
    paths = train(folder)
    page = folder / "trend.html"
    command = [sys.executable, "-m", "saturate_cli", "trend", f"{folder / 'models.py'}:build",
               *[a for p in paths for a in ("--weights", str(p))],
               "--calibration", str(folder / "calib.npy"), "-b", "128", "-q",
               "-f", "html", "-o", str(page)]
    done = subprocess.run(command, cwd=ROOT)
    if done.returncode not in (0, 1):
        raise SystemExit(f"saturate trend failed ({done.returncode})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    photograph(page, args.out)
    print(f"{args.out}: {args.out.stat().st_size // 1024} KiB")
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
