"""Make docs/report.png, the README's picture of the HTML report.

    python scripts/report_picture.py [--out docs/report.png] [--model sample_models/...onnx]

Inspects the sample model with the default settings, renders `--format html`, photographs the
top of the page with headless Chromium and stores it as a palette PNG (under 200 KB).
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

WIDTH, HEIGHT = 1000, 1300  # CSS pixels: the summary, the depth profile and the first sites
LIMIT = 200_000


def browser() -> str:
    found = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                  if shutil.which(b)), None)
    if found is None:
        sys.exit("report_picture: no Chromium on PATH (Debian: apt-get install chromium)")
    return found


def screenshot(page: Path, png: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="saturate-chromium-") as profile:
        subprocess.run([browser(), "--headless", "--disable-gpu", "--no-sandbox",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)


def shrink(raw: Path, out: Path) -> None:
    """A palette PNG: the report's flat colours survive 64 entries."""
    try:
        from PIL import Image
    except ImportError:  # without Pillow the raw screenshot is kept
        shutil.copyfile(raw, out)
        return
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(
            out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sample_models/mlp_sigmoid_badinit.onnx")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    args = parser.parse_args()

    from saturate_cli.pipeline import inspect_model
    from saturate_cli.render.html import render
    from saturate_cli.settings import Settings

    report = inspect_model(args.model, Settings())
    with tempfile.TemporaryDirectory() as tmp:
        page, raw = Path(tmp) / "report.html", Path(tmp) / "raw.png"
        page.write_text(render([report]), encoding="utf-8")
        screenshot(page, raw)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shrink(raw, args.out)
    size = args.out.stat().st_size
    print(f"{args.out}: {size / 1024:.0f} KB")
    if size > LIMIT:
        sys.exit(f"report_picture: {args.out} is {size} bytes, over the {LIMIT} budget")


if __name__ == "__main__":
    main()
