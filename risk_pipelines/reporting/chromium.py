"""Headless Chromium turns the brief's HTML into a PNG (and reads back the rendered text).

Chromium is a system package (Debian's ``chromium``; ``make test`` installs it when missing).
Without it the brief is still written as HTML and the PNG is reported as skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 60
_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in containers and CI; the page is our own, with no network access
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-extensions",
    "--force-device-scale-factor=1",
)


class ChromiumError(RuntimeError):
    pass


def find_chromium() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    binary = find_chromium()
    if binary is None:
        raise ChromiumError(f"no Chromium found (looked for {', '.join(BINARIES)})")
    with tempfile.TemporaryDirectory(prefix="risk-chromium-") as profile:
        # A throwaway profile: parallel renders never share a lock, nothing persists.
        done = subprocess.run(
            [binary, *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    if done.returncode != 0:
        raise ChromiumError(f"{binary} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done


def screenshot(html_path: Path, png_path: Path, width: int, height: int = 4000) -> Path:
    """Render the page at ``width`` pixels and save it, trimmed of the blank space below the
    content (Chromium shoots a fixed window; the page is shorter or longer than any guess)."""
    _run([f"--screenshot={png_path}", f"--window-size={width},{height}", html_path.as_uri()])
    if not png_path.exists():
        raise ChromiumError(f"Chromium wrote no screenshot to {png_path}")
    _trim_bottom(png_path)
    return png_path


def rendered_text(html_path: Path) -> str:
    """The DOM after Chromium parsed and laid the page out, as HTML text."""
    return _run(["--dump-dom", html_path.as_uri()]).stdout


def _trim_bottom(png_path: Path, margin: int = 24) -> None:
    from PIL import Image, ImageChops  # matplotlib's own dependency

    with Image.open(png_path) as image:
        rgb = image.convert("RGB")
    background = Image.new("RGB", rgb.size, rgb.getpixel((rgb.width - 1, rgb.height - 1)))
    content = ImageChops.difference(rgb, background).getbbox()
    if content is not None:
        rgb.crop((0, 0, rgb.width, min(rgb.height, content[3] + margin))).save(png_path)
