#!/usr/bin/python3
"""Synthetic text images for the PaddleOCR models (calibration and agreement checks).

Renders seeded random words with the DejaVu fonts (Debian's fonts-dejavu-core) as PaddleOCR's
preprocessing expects them, and writes float32 .npy batches:
  cls_x.npy  [N,3,48,192]  text lines, every second one rotated 180 degrees, (x/255-0.5)/0.5
  cls_y.npy  [N]           0 upright, 1 rotated (the classifier's two classes)
  rec_x.npy  [N,3,48,320]  text lines, (x/255-0.5)/0.5
  det_x.npy  [N,3,320,320] pages of several lines, ImageNet mean/std
Needs python3-pil (apt). Not used by nncompress itself: these are test fixtures.
  tools/realmodels/make_text_images.py OUT_DIR [N] [SEED]
"""
import glob
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = ("the quick brown fox jumps over lazy dog invoice total amount date paid order number street "
         "city phone email price quantity 2024 12.50 $99 No. 0415 HELLO World Model Compress Quantize "
         "Prune Distill ONNX Runtime receipt station ticket platform exit open closed monday friday").split()


def fonts():
    found = sorted(glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf"))
    if not found:
        sys.exit("make_text_images: no DejaVu fonts (apt-get install fonts-dejavu-core)")
    return found


def text_line(rng, font_files, width, height):
    back = rng.randint(200, 255)
    img = Image.new("RGB", (width, height), (back, back, rng.randint(200, 255)))
    draw = ImageDraw.Draw(img)
    size = rng.randint(int(height * 0.55), int(height * 0.8))
    font = ImageFont.truetype(rng.choice(font_files), size)
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    ink = rng.randint(0, 80)
    draw.text((rng.randint(2, 12), (height - size) // 2 - 2), words, fill=(ink, ink, ink), font=font)
    return img


def page(rng, font_files, side):
    img = Image.new("RGB", (side, side), (rng.randint(220, 255),) * 3)
    draw = ImageDraw.Draw(img)
    y = rng.randint(5, 30)
    while y < side - 30:
        size = rng.randint(14, 28)
        font = ImageFont.truetype(rng.choice(font_files), size)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
        draw.text((rng.randint(5, 60), y), words, fill=(rng.randint(0, 60),) * 3, font=font)
        y += size + rng.randint(8, 30)
    return img


def chw(img):
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 64
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1234
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed)
    font_files = fonts()
    cls = []
    for i in range(n):
        img = text_line(rng, font_files, 192, 48)
        if i % 2 == 1:
            img = img.rotate(180)
        cls.append((chw(img) - 0.5) / 0.5)
    rec = [(chw(text_line(rng, font_files, 320, 48)) - 0.5) / 0.5 for _ in range(n)]
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    det = [(chw(page(rng, font_files, 320)) - mean) / std for _ in range(max(1, n // 4))]
    np.save(os.path.join(out, "cls_x.npy"), np.stack(cls).astype(np.float32))
    np.save(os.path.join(out, "cls_y.npy"), np.arange(n, dtype=np.int64) % 2)  # 0: upright, 1: 180 degrees
    np.save(os.path.join(out, "rec_x.npy"), np.stack(rec).astype(np.float32))
    np.save(os.path.join(out, "det_x.npy"), np.stack(det).astype(np.float32))


if __name__ == "__main__":
    main()
