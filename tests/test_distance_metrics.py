import keras
import numpy as np
import pytest
import scipy.linalg
from keras import ops

from kerasbig.metrics import FrechetDistance
from kerasbig.metrics import KernelDistance
from kerasbig.metrics import frechet_distance


def _numpy(x):
    return float(np.asarray(ops.convert_to_numpy(x)))


def _scipy_frechet(mu1, sigma1, mu2, sigma2):
    # The reference FID computation (pytorch-fid / TTUR): scipy's sqrtm.
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return ((mu1 - mu2) ** 2).sum() + np.trace(sigma1 + sigma2 - 2 * covmean)


def _spd(d, rng, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.1 * np.eye(d))


def test_closed_form_between_known_gaussians():
    # Diagonal covariances: sum (mu1 - mu2)**2 + sum (sqrt(a) - sqrt(b))**2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    np.testing.assert_allclose(_numpy(got), expected, rtol=1e-5)
    # Identical Gaussians: 0, also for a singular covariance.
    singular = np.diag([1.0, 0.0, 2.0])
    assert abs(_numpy(frechet_distance(mu1, singular, mu1, singular))) < 1e-5


@pytest.mark.parametrize("d", [2, 16, 64])
def test_matches_scipy_sqrtm_on_random_covariances(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _spd(d, rng), _spd(d, rng, scale=2.0)
    expected = _scipy_frechet(mu1, s1, mu2, s2)
    got = _numpy(frechet_distance(*(np.float32(v) for v in (mu1, s1, mu2, s2))))
    assert abs(got - expected) / expected <= 1e-3


def test_streaming_metric_matches_scipy_on_sample_statistics():
    rng = np.random.default_rng(0)
    d = 32
    real = rng.normal(size=(3000, d)) @ rng.normal(size=(d, d)) + 5.0
    fake = rng.normal(size=(2500, d)) * 1.5 + 4.0
    metric = FrechetDistance(num_features=d)
    for start in range(0, 3000, 512):
        metric.update_state(real=real[start : start + 512])
    for start in range(0, 2500, 400):
        metric.update_state(generated=fake[start : start + 400])
    expected = _scipy_frechet(
        real.mean(0),
        np.cov(real, rowvar=False),
        fake.mean(0),
        np.cov(fake, rowvar=False),
    )
    assert abs(_numpy(metric.result()) - expected) / expected <= 1e-6
    # reset_generated keeps the real statistics. A sample against itself,
    # batched differently: the smallest covariance eigenvalue is 0.017, so
    # float32 square roots would leave about 1e-2 here (seen on torch).
    metric.reset_generated()
    metric.update_state(generated=real[:1500])
    metric.update_state(generated=real[1500:])
    assert abs(_numpy(metric.result())) < 1e-6
    metric.reset_state()
    assert _numpy(metric.statistics["real"][0]) == 0


def test_feature_extractor_and_config_round_trip():
    keras.utils.set_random_seed(0)
    extractor = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    metric = FrechetDistance(extractor)
    assert metric.num_features == 3
    rng = np.random.default_rng(0)
    real = rng.uniform(size=(200, 4, 4, 1)).astype("float32")
    fake = rng.uniform(size=(200, 4, 4, 1)).astype("float32") ** 2
    metric.update_state(real, fake)
    features = lambda x: np.asarray(  # noqa: E731
        ops.convert_to_numpy(extractor(x)), "float64"
    )
    fr, ff = features(real), features(fake)
    expected = _scipy_frechet(
        fr.mean(0),
        np.cov(fr, rowvar=False),
        ff.mean(0),
        np.cov(ff, rowvar=False),
    )
    np.testing.assert_allclose(_numpy(metric.result()), expected, rtol=1e-3)
    config = metric.get_config()
    assert "feature_extractor" not in config  # weights would be lost
    clone = FrechetDistance.from_config(
        {**config, "feature_extractor": extractor}
    )
    assert clone.num_features == 3
    clone.update_state(real, fake)
    np.testing.assert_allclose(
        _numpy(clone.result()), _numpy(metric.result()), rtol=1e-5
    )


def test_kernel_distance_equals_the_unbiased_estimator():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5))
    y = rng.normal(size=(90, 5)) + 0.5
    metric = KernelDistance(num_features=5, max_samples=200)
    metric.update_state(real=x[:60])
    metric.update_state(real=x[60:], generated=y)
    k = lambda a, b: (a @ b.T / 5 + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    expected = (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * k(x, y).mean()
    )
    np.testing.assert_allclose(_numpy(metric.result()), expected, rtol=1e-4)
    with pytest.raises(ValueError, match="more than max_samples=200"):
        metric.update_state(generated=y[:1].repeat(150, 0))
    metric.reset_generated()
    with pytest.raises(ValueError, match="at least 2 generated samples"):
        metric.result()


def test_bad_arguments():
    with pytest.raises(ValueError, match="pass `num_features`"):
        FrechetDistance()
    with pytest.raises(ValueError, match="`feature_extractor` must be"):
        FrechetDistance("inception", num_features=4)
    with pytest.raises(ValueError, match="`max_samples` must be"):
        KernelDistance(num_features=2, max_samples=1)
    metric = FrechetDistance(num_features=3)
    with pytest.raises(ValueError, match="expected 3 features per sample"):
        metric.update_state(real=np.ones((4, 2), "float32"))
    with pytest.raises(ValueError, match="pass `real`, `generated` or both"):
        metric.update_state()
