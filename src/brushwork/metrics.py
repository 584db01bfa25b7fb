"""Image metrics used everywhere in brushwork (painting, training, benchmarks): PSNR and SSIM.

>>> import numpy as np
>>> round(psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)), 2)
20.0
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def mse_to_psnr(mse: float) -> float:
    """PSNR in dB of a mean squared error of values in [0, 1] (inf for 0)."""
    return float("inf") if mse <= 0 else float(10.0 * np.log10(1.0 / mse))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two same-shape arrays in [0, 1], e.g. (H, W, C) images, dB."""
    return mse_to_psnr(float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


SSIM_BAND_ROWS = 256  # output rows of SSIM computed at once: a 4096 px poster in ~100 MB, not ~4 GB


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two (H, W, 3) images in [0, 1] (Wang et al. 2004), mean over channels.

    Gaussian window sigma 1.5 (11 taps), K1 = 0.01, K2 = 0.03, data range 1: the standard setting;
    images smaller than 11 px get the largest odd window that fits. Computed one channel and one band
    of SSIM_BAND_ROWS rows at a time (the filter is 'valid', so bands are exact), in bounded memory.
    """
    a, b = np.asarray(a), np.asarray(b)
    h = a.shape[0]
    taps = min(11, (min(a.shape[:2]) - 1) | 1)
    g = torch.exp(-((torch.arange(taps, dtype=torch.float64) - taps // 2) ** 2) / (2 * 1.5**2))
    g = g / g.sum()

    def blur(z: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid region only
        return F.conv2d(F.conv2d(z, g.view(1, 1, 1, taps)), g.view(1, 1, taps, 1))

    c1, c2 = 0.01**2, 0.03**2
    total, count = 0.0, 0
    for ch in range(a.shape[2]):
        for r0 in range(0, h - taps + 1, SSIM_BAND_ROWS):
            r1 = min(r0 + SSIM_BAND_ROWS, h - taps + 1) + taps - 1  # input rows of these output rows
            x = torch.from_numpy(np.asarray(a[r0:r1, :, ch], np.float64))[None, None]  # (1, 1, rows, W)
            y = torch.from_numpy(np.asarray(b[r0:r1, :, ch], np.float64))[None, None]
            mx, my = blur(x), blur(y)
            vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
            s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            total, count = total + float(s.sum()), count + s.numel()
    return total / count


__all__ = ["mse_to_psnr", "psnr", "ssim"]
