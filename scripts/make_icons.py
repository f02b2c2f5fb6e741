"""Generate the PWA icons and placeholder manifest screenshots under webapp/static/.

Run from anywhere:  .venv/bin/python scripts/make_icons.py

Everything is drawn with plain shapes (no fonts), supersampled and downscaled for
anti-aliasing, and written with optimize=True. The icons are only red, white and their
anti-aliased blends, so they are stored as 16-colour palette PNGs (a fixed red-to-white ramp
plus a few transparent reds for the rounded corners): a quarter of the bytes, the same look,
which keeps a first visit within its byte budget (tests/test_first_load.py). Output is
deterministic, so re-running it on an unchanged script leaves the files byte-identical.

The screenshots are stand-ins until the E2E suite produces real ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "webapp" / "static" / "icons"
SHOTS = ROOT / "webapp" / "static" / "screenshots"

RED = (0xC8, 0x16, 0x1D)
WHITE = (0xFF, 0xFF, 0xFF)
BORDER = (0xE3, 0xE3, 0xE6)
LABEL = (0xB8, 0xB8, 0xBE)
HINT = (0xD6, 0xD6, 0xDB)

SS = 4  # supersampling factor


def _shield_points(cx: float, top: float, w: float, h: float, steps: int = 24) -> list[tuple[float, float]]:
    """Shield outline: flat top, straight sides, curved sides meeting at a bottom point."""
    left, right = cx - w / 2, cx + w / 2
    side_end = top + h * 0.45
    bottom = top + h
    pts = [(left, top), (right, top), (right, side_end)]
    # quadratic Bezier from the right side end down to the bottom point, and mirrored
    ctrl = (right, top + h * 0.82)
    for i in range(1, steps + 1):
        t = i / steps
        x = (1 - t) ** 2 * right + 2 * (1 - t) * t * ctrl[0] + t**2 * cx
        y = (1 - t) ** 2 * side_end + 2 * (1 - t) * t * ctrl[1] + t**2 * bottom
        pts.append((x, y))
    mirrored = [(2 * cx - x, y) for x, y in reversed(pts[3:-1])]
    return pts + mirrored + [(left, side_end)]


def _thick_polyline(d: ImageDraw.ImageDraw, pts: list[tuple[float, float]], width: float, fill) -> None:
    d.line(pts, fill=fill, width=round(width), joint="curve")
    r = width / 2
    for x, y in (pts[0], pts[-1]):
        d.ellipse((x - r, y - r, x + r, y + r), fill=fill)


# Motif layout in units of the motif width w, origin at the card's top-left corner.
# Visible extent: x 0..1.06, y 0..0.89; centre of that box:
MOTIF_CX, MOTIF_CY = 0.53, 0.445


def draw_motif(d: ImageDraw.ImageDraw, cx: float, cy: float, w: float, fg=WHITE, bg=RED) -> None:
    """White ID card with a portrait and text lines, overlapped by a shield bearing a check."""
    ox, oy = cx - MOTIF_CX * w, cy - MOTIF_CY * w

    def p(x: float, y: float) -> tuple[float, float]:
        return (ox + x * w, oy + y * w)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (*p(x0, y0), *p(x1, y1))

    # card
    d.rounded_rectangle(box(0, 0, 1.0, 0.64), radius=0.08 * w, fill=fg)
    # portrait: head and shoulders
    d.ellipse(box(0.155, 0.135, 0.325, 0.305), fill=bg)
    d.chord(box(0.10, 0.35, 0.38, 0.66), start=180, end=360, fill=bg)
    # text lines
    bar_h = 0.06
    for y, x1 in ((0.16, 0.86), (0.29, 0.86), (0.42, 0.58)):
        d.rounded_rectangle(box(0.46, y, x1, y + bar_h), radius=bar_h / 2 * w, fill=bg)
    # shield, with a background-coloured ring so it reads as a separate shape over the card
    s_cx, s_top, s_w, s_h = 0.86, 0.43, 0.40, 0.46
    ring = 0.04
    d.polygon(
        [p(x, y) for x, y in _shield_points(s_cx, s_top - ring, s_w + 2 * ring, s_h + 2.3 * ring)],
        fill=bg,
    )
    d.polygon([p(x, y) for x, y in _shield_points(s_cx, s_top, s_w, s_h)], fill=fg)
    _thick_polyline(
        d,
        [p(s_cx - 0.095, s_top + 0.20), p(s_cx - 0.025, s_top + 0.27), p(s_cx + 0.10, s_top + 0.13)],
        0.055 * w,
        bg,
    )


def make_icon(size: int, motif_frac: float, corner_frac: float = 0.0) -> Image.Image:
    """Square icon; corner_frac > 0 gives rounded, transparent corners (RGBA)."""
    big = size * SS
    if corner_frac:
        img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=corner_frac * big, fill=RED)
    else:
        img = Image.new("RGB", (big, big), RED)
        d = ImageDraw.Draw(img)
    draw_motif(d, big / 2, big / 2, motif_frac * big)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def check_safe_zone(img: Image.Image, radius_frac: float = 0.40, tol: int = 6) -> None:
    """Maskable icons: everything outside the central safe circle must be plain background."""
    size = img.width
    c, r = (size - 1) / 2, radius_frac * size
    px = img.convert("RGB").load()
    for y in range(size):
        for x in range(size):
            if math.hypot(x - c, y - c) > r:
                got = px[x, y]
                if any(abs(a - b) > tol for a, b in zip(got, RED, strict=True)):
                    raise SystemExit(f"maskable icon: motif pixel {got} at ({x},{y}) outside safe zone")


def _bar(d, x0, y0, x1, h, fill):
    d.rounded_rectangle((x0, y0, x1, y0 + h), radius=h / 2, fill=fill)


def _login_card(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, s: float) -> float:
    """Card with title, two labelled inputs, a primary button and a link; returns its bottom y."""
    pad = 24 * s
    h = 372 * s
    d.rounded_rectangle((x0 + 2 * s, y0 + 4 * s, x0 + w + 2 * s, y0 + h + 4 * s), radius=14 * s, fill=BORDER)
    d.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=14 * s, fill=WHITE, outline=BORDER, width=round(s))
    ix0, ix1 = x0 + pad, x0 + w - pad
    y = y0 + pad + 4 * s
    _bar(d, ix0, y, ix0 + 0.45 * (ix1 - ix0), 18 * s, (0x33, 0x33, 0x38))  # title
    y += 30 * s
    _bar(d, ix0, y, ix0 + 0.75 * (ix1 - ix0), 10 * s, HINT)  # subtitle
    y += 34 * s
    for label_w in (0.22, 0.16):
        _bar(d, ix0, y, ix0 + label_w * (ix1 - ix0), 10 * s, LABEL)
        y += 18 * s
        d.rounded_rectangle(
            (ix0, y, ix1, y + 44 * s), radius=8 * s, fill=WHITE, outline=LABEL, width=round(s)
        )
        _bar(d, ix0 + 14 * s, y + 17 * s, ix0 + 0.4 * (ix1 - ix0), 10 * s, HINT)
        y += 62 * s
    d.rounded_rectangle((ix0, y, ix1, y + 46 * s), radius=8 * s, fill=RED)
    mid = (ix0 + ix1) / 2
    _bar(d, mid - 30 * s, y + 17 * s, mid + 30 * s, 12 * s, WHITE)
    y += 66 * s
    _bar(d, mid - 50 * s, y, mid + 50 * s, 10 * s, (0xE8, 0x9A, 0x9D))
    return y0 + h


def make_screenshot(width: int, height: int, narrow: bool) -> Image.Image:
    s = SS
    img = Image.new("RGB", (width * s, height * s), WHITE)
    d = ImageDraw.Draw(img)
    band = (168 if narrow else 96) * s
    d.rectangle((0, 0, width * s, band), fill=RED)
    if narrow:
        # emblem and title centred in a tall header
        draw_motif(d, width * s / 2, 64 * s, 64 * s)
        _bar(d, width * s / 2 - 80 * s, 112 * s, width * s / 2 + 80 * s, 16 * s, WHITE)
        _bar(d, width * s / 2 - 50 * s, 138 * s, width * s / 2 + 50 * s, 9 * s, (0xF0, 0xB8, 0xBA))
        card_w = (width - 32) * s
        bottom = _login_card(d, 16 * s, band + 28 * s, card_w, s)
    else:
        draw_motif(d, 64 * s, band / 2, 56 * s)
        _bar(d, 112 * s, 34 * s, 300 * s, 16 * s, WHITE)
        _bar(d, 112 * s, 60 * s, 230 * s, 9 * s, (0xF0, 0xB8, 0xBA))
        card_w = 420 * s
        bottom = _login_card(d, (width * s - card_w) / 2, band + 72 * s, card_w, s)
    # footer hint lines
    cx = width * s / 2
    _bar(d, cx - 90 * s, bottom + 36 * s, cx + 90 * s, 8 * s, HINT)
    _bar(d, cx - 60 * s, bottom + 54 * s, cx + 60 * s, 8 * s, HINT)
    return img.resize((width, height), Image.Resampling.LANCZOS)


def palettized(img: Image.Image) -> Image.Image:
    """The icon on a fixed 16-entry palette: 11 opaque steps from red to white, 5 red alpha steps."""
    entries = [
        (*(round(r + (w - r) * i / 10) for r, w in zip(RED, WHITE, strict=True)), 255) for i in range(11)
    ]
    entries += [(*RED, round(255 * i / 5)) for i in range(5)]
    palette = np.array(entries, dtype=np.float32)
    pixels = np.asarray(img.convert("RGBA"), dtype=np.float32)

    # premultiplied distance, so fully transparent pixels of any colour match the transparent entry
    def premultiplied(rgba):
        return np.concatenate([rgba[..., :3] * rgba[..., 3:] / 255, rgba[..., 3:]], axis=-1)

    distance = ((premultiplied(pixels)[..., None, :] - premultiplied(palette)) ** 2).sum(axis=-1)
    out = Image.fromarray(distance.argmin(axis=-1).astype(np.uint8), mode="P")
    out.putpalette([channel for entry in entries for channel in entry[:3]])
    if img.mode == "RGBA":
        out.info["transparency"] = bytes(entry[3] for entry in entries)
    return out


def save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent == ICONS:
        img = palettized(img)
    img.save(path, format="PNG", optimize=True)
    print(f"{path.relative_to(ROOT)}  {img.width}x{img.height}  {path.stat().st_size} bytes")


def main() -> None:
    # "any" icons: rounded square, motif large
    save(make_icon(192, 0.70, corner_frac=0.18), ICONS / "icon-192.png")
    save(make_icon(512, 0.70, corner_frac=0.18), ICONS / "icon-512.png")
    # maskable: full bleed, motif (max radius ~0.66 w from centre) well inside the 40% safe circle
    maskable = make_icon(512, 0.54)
    check_safe_zone(palettized(maskable))
    save(maskable, ICONS / "icon-maskable-512.png")
    # iOS masks the corners itself and renders transparency as black: opaque, full bleed
    save(make_icon(180, 0.64), ICONS / "apple-touch-icon-180.png")

    save(make_screenshot(390, 844, narrow=True), SHOTS / "login-phone.png")
    save(make_screenshot(1280, 800, narrow=False), SHOTS / "login-desktop.png")


if __name__ == "__main__":
    main()
