"""kerasbig.distribute.layout_map on one device: which weights it lays
out and how, its errors, and the refusals off JAX. The sharded runs are
in test_multi_device.py (8 host devices)."""

import keras
import pytest

import kerasbig as kb

BACKEND = keras.backend.backend()
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="ModelParallel is JAX's")


def _model(**options):
    return kb.models.CausalLM(
        64,
        16,
        num_layers=1,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
        **options,
    )


def _mesh(names=("batch", "model")):
    import jax

    return keras.distribution.DeviceMesh(
        (1,) * len(names), names, jax.devices()[:1]
    )


@jax_only
def test_every_projection_embedding_and_head_is_laid_out():
    layouts = kb.distribute.layout_map(_model(use_bias=True), _mesh(), "both")
    attention = "decoder/block_0/self_attention/"
    feed_forward = "decoder/block_0/feed_forward/"
    expected = {
        attention + "query/kernel": ("batch", "model", None),
        attention + "query/bias": ("model", "batch"),
        attention + "key/kernel": ("batch", "model", None),
        attention + "value/kernel": ("batch", "model", None),
        attention + "attention_output/kernel": ("model", None, "batch"),
        attention + "attention_output/bias": ("batch",),
        feed_forward + "gate_proj/kernel": ("batch", "model"),
        feed_forward + "up_proj/bias": ("model",),
        feed_forward + "down_proj/kernel": ("model", "batch"),
        "embedding/token_embedding/embeddings": ("model", "batch"),
        "lm_head/kernel": ("batch", "model"),
        "lm_head/bias": ("model",),
    }
    for path, axes in expected.items():
        assert layouts[path].axes == axes, path
    # Norm scales stay whole: no entry.
    assert layouts["decoder/block_0/self_attention_norm/scale"] is None


@jax_only
def test_styles_use_only_their_axis():
    model = _model()
    path = "decoder/block_0/feed_forward/up_proj/kernel"
    fsdp = kb.distribute.layout_map(model, _mesh(("batch",)), "fsdp")
    assert fsdp[path].axes == (None, "batch")  # the larger axis
    tensor = kb.distribute.layout_map(model, _mesh(), "tensor_parallel")
    assert tensor[path].axes == (None, "model")


@jax_only
def test_a_tied_model_shards_its_one_table():
    layouts = kb.distribute.layout_map(
        _model(tie_embeddings=True), _mesh(), "tensor_parallel"
    )
    assert layouts["embedding/token_embedding/embeddings"].axes == (
        "model",
        None,
    )
    assert layouts["lm_head/kernel"] is None


@jax_only
@pytest.mark.parametrize(
    "style, names, message",
    [
        (
            "tensor_parallel",
            ("batch",),
            "axis named 'model'. Received: mesh axes \\('batch',\\)",
        ),
        ("fsdp", ("model",), "data axis .* Received: mesh axes \\('model',\\)"),
        ("zero", ("batch", "model"), "style.* Received: style='zero'"),
    ],
)
def test_bad_styles_and_meshes_get_one_clear_line(style, names, message):
    with pytest.raises(ValueError, match=f"layout_map: .*{message}"):
        kb.distribute.layout_map(_model(), _mesh(names), style)


@jax_only
def test_an_unbuilt_model_is_refused():
    with pytest.raises(ValueError, match="must be built.*unbuilt Sequential"):
        kb.distribute.layout_map(
            keras.Sequential([keras.layers.Dense(2)]), _mesh()
        )


@jax_only
def test_model_parallel_needs_a_mesh_and_a_template():
    with pytest.raises(ValueError, match="needs `mesh_shape`.*model=NoneType"):
        kb.distribute.strategy("model_parallel", mesh_shape=(1, 1))
    with pytest.raises(
        ValueError, match="one device per slot.*mesh_shape=\\(2, 4\\)"
    ):
        kb.distribute.strategy(
            "model_parallel", mesh_shape=(2, 4), model=_model()
        )
    with pytest.raises(ValueError, match="are for `model_parallel`"):
        kb.distribute.strategy("none", mesh_shape=(1, 1))
    kb.distribute.strategy("none")


@pytest.mark.skipif(BACKEND == "jax", reason="runs on JAX")
def test_off_jax_the_calls_say_what_to_use_instead():
    with pytest.raises(
        ValueError, match="runs on JAX; on TensorFlow use `mirrored`"
    ):
        kb.distribute.layout_map(_model(), None)
    instead = (
        "KERAS_BACKEND=jax"
        if BACKEND == "torch"
        else "use `mirrored` or `multiworker`"
    )
    with pytest.raises(ValueError, match=instead):
        kb.distribute.strategy(
            "model_parallel", mesh_shape=(1, 1), model=_model()
        )


@jax_only
def test_a_template_function_never_allocates_its_weights():
    # The template is built under a StatelessScope; Keras would allocate
    # its deferred weights at the next top-level StatelessScope (every
    # JAX train step) unless kerasbig takes them off Keras's private
    # "uninitialized_variables" list: this fails if Keras renames it.
    import numpy as np
    from keras.src.backend.common import global_state

    templates = []

    def build():
        templates.append(_model())
        return templates[-1]

    distribution = kb.distribute.strategy(
        "model_parallel", mesh_shape=(1, 1), model=build, style="both"
    )
    try:
        (template,) = templates
        assert all(v._value is None for v in template.variables)
        deferred = global_state.get_global_attribute(
            "uninitialized_variables", []
        )
        assert not {id(v) for v in template.variables} & {
            id(v) for v in deferred
        }
        with distribution.scope():
            model = _model()
            model.compile("adam", "mse")
        tokens = np.ones((2, 4), "int32")
        model.fit(tokens, np.zeros((2, 4, 64)), verbose=0)
        assert all(v._value is None for v in template.variables)
        kernel = model.decoder.blocks[0].self_attention.query_dense.kernel
        layout = distribution.get_variable_layout(kernel)
        assert layout.axes == ("batch", "model", None)
    finally:
        kb.distribute.strategy("none")


@jax_only
def test_a_template_function_must_build_a_model():
    with pytest.raises(ValueError, match="must return a Keras model"):
        kb.distribute.strategy(
            "model_parallel", mesh_shape=(1, 1), model=lambda: "no"
        )
    with pytest.raises(ValueError, match="a function that builds one"):
        kb.distribute.strategy("model_parallel", mesh_shape=(1, 1), model=3)
    kb.distribute.strategy("none")
