"""Screenshot of an HTML audit report for the README, small enough to commit.

    .venv/bin/python scripts/report-screenshot.py reports/audit.html docs/report.png

Opens the report in Debian's Chromium (``scripts/ensure-chromium.sh``) through Playwright, never a
downloaded browser; shoots the header, the first findings and the first plot of each family; and
stores the picture with a 256-colour palette to keep it to a few hundred KB.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH = 1200
# Shown in the picture, in this order, each cut to at most its height (CSS pixels).
PARTS = [
    ("header.top", 400),
    ("section.counts", 120),
    ("#findings-list > li.finding:nth-child(1)", 420),
    ('figure[data-plot="timing"]', 420),
    ('figure[data-plot="rate"]', 420),
    ("#coverage-table", 360),
]


def shoot(report: Path) -> list[Image.Image]:
    pieces = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
            page.goto(report.resolve().as_uri(), wait_until="load")
            for selector, height in PARTS:
                element = page.locator(selector).first
                if element.count() == 0:
                    continue
                box = element.bounding_box()
                if box is None:
                    continue
                clip = {"x": 0, "y": box["y"], "width": WIDTH, "height": min(box["height"], height)}
                shot = page.screenshot(clip=clip, full_page=True)
                pieces.append(Image.open(io.BytesIO(shot)).convert("RGB"))
        finally:
            browser.close()
    return pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="audit.html")
    parser.add_argument("output", type=Path, help="the PNG to write")
    args = parser.parse_args()
    pieces = shoot(args.report)
    if not pieces:
        raise SystemExit(f"nothing to shoot in {args.report}")
    canvas = Image.new("RGB", (WIDTH, sum(p.height for p in pieces)), "white")
    top = 0
    for piece in pieces:
        canvas.paste(piece, (0, top))
        top += piece.height
    canvas = canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.output, optimize=True)
    print(f"{args.output}: {canvas.width}x{canvas.height}, {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
