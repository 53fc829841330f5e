import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.layers import TransformerDecoder
from kerasbig.layers import TransformerEncoder

RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.standard_normal(shape).astype("float32")


def test_encoder_conformance(check_layer):
    check_layer(
        TransformerEncoder,
        {
            "num_layers": 2,
            "num_heads": 2,
            "intermediate_dim": 12,
            "dropout": 0.1,
            "stochastic_depth": 0.2,
            "normalize_first": True,
            "seed": 0,
        },
        input_shape=(2, 5, 8),
        litert=True,
    )


def test_decoder_conformance_with_cross_attention(check_layer):
    check_layer(
        TransformerDecoder,
        {
            "num_layers": 2,
            "num_heads": 2,
            "intermediate_dim": 12,
            "cross_attention": True,
            "rotary": True,
            "num_key_value_heads": 1,
        },
        input_data={"inputs": _normal(2, 5, 8), "context": _normal(2, 7, 6)},
        litert=True,
    )


def test_encoder_equals_its_blocks_in_sequence():
    encoder = TransformerEncoder(3, 2, 16, normalize_first=True)
    x = _normal(2, 4, 8)
    got = ops.convert_to_numpy(encoder(x))
    h = x
    for block in encoder.blocks:
        h = block(h)
    np.testing.assert_allclose(
        got, ops.convert_to_numpy(encoder.final_norm(h)), atol=1e-5
    )


def test_post_norm_stack_has_no_final_norm_and_depth_rates_rise():
    encoder = TransformerEncoder(3, 2, 16, stochastic_depth=0.2)
    encoder(_normal(1, 2, 8))
    assert encoder.final_norm is None
    rates = [block.stochastic_depth for block in encoder.blocks]
    np.testing.assert_allclose(rates, [0.0, 0.1, 0.2])


def test_encoder_padding_never_changes_real_tokens():
    encoder = TransformerEncoder(2, 2, 16)
    x = _normal(2, 6, 8)
    mask = np.arange(6)[None] < np.array([[6], [3]])
    changed = np.where(mask[..., None], x, x + 30.0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(encoder(x, inputs_mask=mask))[mask],
        ops.convert_to_numpy(encoder(changed, inputs_mask=mask))[mask],
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"normalize_first": True, "rotary": True, "num_key_value_heads": 2},
        {"sliding_window": 3},
    ],
)
def test_decoder_cache_equals_full_forward_at_every_step(kwargs):
    decoder = TransformerDecoder(2, 4, 32, **kwargs)
    x = _normal(2, 8, 16)
    full = ops.convert_to_numpy(decoder(x))
    cache = decoder.init_cache(2, 10)
    assert tuple(cache.shape) == (
        2,
        2,
        2,
        10,
        kwargs.get("num_key_value_heads", 4),
        4,
    )
    outputs, cache = decoder(x[:, :3], cache=cache, cache_index=0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), full[:, :3], atol=1e-5
    )
    for index in range(3, 8):
        outputs, cache = decoder(
            x[:, index : index + 1], cache=cache, cache_index=index
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(outputs)[:, 0], full[:, index], atol=1e-5
        )


def test_decoder_is_causal():
    decoder = TransformerDecoder(2, 2, 16)
    x = _normal(1, 6, 8)
    changed = x.copy()
    changed[:, 3:] *= -5.0
    np.testing.assert_allclose(
        ops.convert_to_numpy(decoder(x))[:, :3],
        ops.convert_to_numpy(decoder(changed))[:, :3],
        atol=1e-5,
    )


def test_stack_errors():
    with pytest.raises(ValueError, match="TransformerEncoder: `num_layers`"):
        TransformerEncoder(0, 2, 8)
    with pytest.raises(
        ValueError, match="TransformerBlock: `activation`|Could not interpret"
    ):
        TransformerEncoder(1, 2, 8, activation="nonsense")
    decoder = TransformerDecoder(2, 2, 8)
    with pytest.raises(ValueError, match="TransformerDecoder: build the layer"):
        decoder.init_cache(1, 4)
    x = _normal(1, 3, 8)
    decoder(x)
    with pytest.raises(
        ValueError,
        match=r"TransformerDecoder: `cache` must have shape.*num_layers=2",
    ):
        decoder(x, cache=np.zeros((1, 3, 2, 4, 2, 4), "float32"), cache_index=0)
    with pytest.raises(
        ValueError, match="MultiHeadAttention: `cache` must have shape"
    ):
        decoder(x, cache=np.zeros((1, 2, 2, 4, 2, 3), "float32"), cache_index=0)


def test_saving_round_trip(tmp_path):
    inputs = keras.Input((5, 8))
    outputs = TransformerDecoder(2, 2, 16, normalize_first=True, rotary=True)(
        inputs
    )
    model = keras.Model(inputs, outputs)
    x = _normal(2, 5, 8)
    model.save(tmp_path / "decoder.keras")
    restored = keras.saving.load_model(tmp_path / "decoder.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x)),
        ops.convert_to_numpy(model(x)),
        atol=1e-6,
    )
