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


# On TensorFlow (XLA fits and LiteRT: half a minute) in the full tier; the
# block's cross-attention converts to LiteRT per push.
@pytest.mark.per_push_on("torch", "jax")
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


@pytest.mark.backend_agnostic
def test_block_options_are_defined_once_by_the_block():
    import inspect

    from kerasbig.layers import TransformerBlock
    from kerasbig.layers._transformer_stack import BLOCK_OPTIONS

    # Every block argument but the per-block ones is a stack option.
    block = set(inspect.signature(TransformerBlock).parameters)
    per_block = {"causal", "cross_attention", "stochastic_depth", "seed"}
    per_block |= {"num_heads", "intermediate_dim", "kwargs"}
    assert set(BLOCK_OPTIONS) == block - per_block
    options = {
        "key_dim": 4,
        "num_key_value_heads": 1,
        "normalize_first": True,
        "normalization": "rms_norm",
        "activation": "swiglu",
        "dropout": 0.1,
        "rotary": True,
        "sliding_window": 3,
        "use_bias": False,
        "kernel_initializer": "zeros",
    }
    assert set(options) <= set(BLOCK_OPTIONS)
    encoder = TransformerEncoder(2, 2, 8, seed=3, **options)
    for index, block in enumerate(encoder.blocks):
        config = block.get_config()
        assert {k: config[k] for k in options} == {
            **options,
            "kernel_initializer": config["kernel_initializer"],
        }
        assert config["seed"] == 3 + 10 * index
    assert encoder.blocks[0].get_config()["kernel_initializer"][
        "class_name"
    ] == ("Zeros")
    config = encoder.get_config()
    assert "cross_attention" not in config  # an encoder takes no context
    again = TransformerEncoder.from_config(config)
    assert again.get_config() == config
    with pytest.raises(
        ValueError, match="TransformerEncoder: `cross_attention`"
    ):
        TransformerEncoder(1, 2, 8, cross_attention=True)
    with pytest.raises(TypeError):
        TransformerEncoder(1, 2, 8, 4)  # options are keyword-only
    decoder = TransformerDecoder(1, 2, 8, cross_attention=True)
    decoder(_normal(1, 3, 8), _normal(1, 2, 8))
    block = decoder.blocks[0]
    # The attention layers are attributes of one kind; absent is None.
    assert block.self_attention.name == "self_attention"
    assert block.cross_attention.name == "cross_attention"
    assert TransformerDecoder.from_config(decoder.get_config()).cross_attention


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
