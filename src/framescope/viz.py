"""Pictures for people: contact sheets of sampled frames."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from framescope.types import Clip


def contact_sheet(
    clip: Clip, columns: int = 8, thumb_width: int = 192, title: str | None = None
) -> Image.Image:
    """A grid of the clip's frames, each labelled with its presentation time."""
    n = max(len(clip), 1)
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    h, w = clip.frames.shape[1:3] if len(clip) else (thumb_width, thumb_width)
    thumb_h = max(1, round(thumb_width * h / w))
    label_h, head = 14, (18 if title else 0)
    sheet = Image.new("RGB", (columns * thumb_width, head + rows * (thumb_h + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    if title:  # PIL's bundled font has no en dash (Window.__str__ uses one)
        draw.text((4, 3), title.replace("–", "-"), fill="black", font=font)
    for k, (frame, t) in enumerate(zip(clip.frames, clip.timestamps)):
        r, c = divmod(k, columns)
        x, y = c * thumb_width, head + r * (thumb_h + label_h)
        sheet.paste(
            Image.fromarray(np.asarray(frame)).resize((thumb_width, thumb_h), Image.BILINEAR),
            (x, y),
        )
        draw.text((x + 3, y + thumb_h + 1), f"#{k}  {t:.3f} s", fill="black", font=font)
    return sheet
