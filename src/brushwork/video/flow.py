"""Optical flow between input frames (OpenCV's DIS), the forward-backward check, and warping.

    fl = frame_flow(prev, cur)        # FramePair: forward (prev -> cur), backward, masks
    moved = warp(prev_image, fl.backward)   # prev's content where it lies in cur

Conventions (kornia-like shapes, numpy arrays):
- images are (H, W, 3) float32 in [0, 1];
- a flow is (H, W, 2) float32 in px, (dx, dy): `forward[y, x]` says where pixel (x, y) of the
  previous frame went in the current one, `backward[y, x]` where pixel (x, y) of the current frame
  came from in the previous one;
- a mask is (H, W) bool.

DIS (Kroeger et al. 2016) is OpenCV's fast dense flow: about 10 ms a frame at 256 px on one core,
which keeps the flow a small part of a painted frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Forward-backward consistency (Sundaram et al. 2010, used by Ruder et al. 2016 and Lai et al. 2018):
# a pixel is seen in both frames when |f + b(x + f)|^2 <= FB_RATIO (|f|^2 + |b(x + f)|^2) + FB_SLACK.
FB_RATIO = 0.01
FB_SLACK = 0.5


def _cv2():
    import cv2

    return cv2


def gray(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (H, W) uint8 luminance, what DIS works on."""
    lum = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    return np.clip(lum * 255.0 + 0.5, 0, 255).astype(np.uint8)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32 flow from image `a` to image `b` (each (H, W, 3) float): a[p] ~ b[p + flow[p]]."""
    cv2 = _cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(gray(a), gray(b), None)


def sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a (H, W, C) field at points (N, 2) (x, y) px -> (N, C); edges clamp."""
    h, w = field.shape[:2]
    x = np.clip(points[:, 0] - 0.5, 0, w - 1)  # pixel centres sit at +0.5
    y = np.clip(points[:, 1] - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(H, W, C) sampled at p + flow[p] for every pixel p (bilinear, edges replicated) -> (H, W, C).

    With the backward flow of (prev, cur), `warp(prev, backward)` is prev moved onto cur.
    """
    cv2 = _cv2()
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + flow[..., 0], ys + flow[..., 1]
    out = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), mx, my, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return out.reshape(image.shape)


def consistent(flow: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(H, W) bool: where `flow` is confirmed by the flow the other way (`other`), i.e. seen in both frames."""
    back = warp(other, flow)  # other at p + flow[p]
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    inside = (xs + flow[..., 0] >= 0) & (xs + flow[..., 0] <= w - 1) & (ys + flow[..., 1] >= 0) & (
        ys + flow[..., 1] <= h - 1
    )
    err = ((flow + back) ** 2).sum(-1)
    bound = FB_RATIO * ((flow**2).sum(-1) + (back**2).sum(-1)) + FB_SLACK
    return (err <= bound) & inside


@dataclass
class FramePair:
    """The flow between two consecutive input frames, both ways, with where each is trustworthy."""

    forward: np.ndarray  # (H, W, 2) prev -> cur
    backward: np.ndarray  # (H, W, 2) cur -> prev
    seen_prev: np.ndarray  # (H, W) bool, on prev's pixels: visible in cur too (forward-backward check)
    seen_cur: np.ndarray  # (H, W) bool, on cur's pixels: visible in prev too


def frame_flow(prev: np.ndarray, cur: np.ndarray) -> FramePair:
    """DIS flow both ways between two (H, W, 3) frames and the forward-backward check of each."""
    fwd, bwd = dis_flow(prev, cur), dis_flow(cur, prev)
    return FramePair(fwd, bwd, consistent(fwd, bwd), consistent(bwd, fwd))


def warping_error(prev_out: np.ndarray, cur_out: np.ndarray, pair: FramePair) -> float:
    """Lai et al. 2018's warping error of an output video at one frame pair.

    The mean squared difference, over channels and the pixels the input's flow marks as visible in
    both frames, between output frame t and output frame t-1 warped to t by the *input's* backward
    flow. With the input frames themselves as the outputs it is the clip's own warping error (what
    lighting, noise and flow errors leave).
    """
    moved = warp(prev_out, pair.backward)
    mask = pair.seen_cur
    if not mask.any():
        return float("nan")
    d = (cur_out.astype(np.float32) - moved) ** 2
    return float(d[mask].mean())


__all__ = ["FramePair", "consistent", "dis_flow", "frame_flow", "gray", "sample", "warp", "warping_error"]
