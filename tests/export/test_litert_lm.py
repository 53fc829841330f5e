"""to_litert_lm and LiteRTGenerator: prefill/decode signatures with an
explicit key/value cache, run in ai_edge_litert and compared with
CausalLM.generate token for token."""

import keras
import numpy as np
import pytest
from references import reference
from references import requires
from references import save_tiny_llama

from kerasbig.export import LiteRTGenerator
from kerasbig.export import to_litert_lm
from kerasbig.models import CausalLM

ai_edge_litert = reference("ai_edge_litert.interpreter")
torch = reference("torch")
transformers = reference("transformers")

VOCABULARY = 40
LLAMA_STYLE = {"num_key_value_heads": 2}
GPT2_STYLE = {
    "position": "learned",
    "normalization": "layer_norm",
    "activation": "gelu_tanh",
    "use_bias": True,
    "tie_embeddings": True,
}


def _model(options, hidden_dim=64):
    keras.utils.set_random_seed(0)
    return CausalLM(
        vocabulary_size=VOCABULARY,
        max_sequence_length=40,
        num_layers=2,
        hidden_dim=hidden_dim,
        num_heads=4,
        intermediate_dim=2 * hidden_dim,
        **options,
    )


@pytest.fixture(scope="module")
def trained_lm():
    """A CausalLM trained to count (each token the previous plus one), so
    its greedy choices are clear and quantization should keep them."""
    model = _model(LLAMA_STYLE, hidden_dim=128)
    starts = np.random.default_rng(0).integers(0, VOCABULARY, (256, 1))
    ids = ((starts + np.arange(25)) % VOCABULARY).astype("int32")
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(ids[:, :-1], ids[:, 1:], epochs=6, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def llama_file(tmp_path_factory):
    """An untrained llama-style model and its float32 file: prefill 4 and
    12, cache of 32."""
    model = _model(LLAMA_STYLE)
    folder = tmp_path_factory.mktemp("llama_file")
    return model, to_litert_lm(model, folder / "lm.tflite", (4, 12), 32)


def _check_float_file(model, generator, path):
    assert generator.agreement == 1.0
    assert generator.prefill_lengths == [4, 12]
    assert generator.cache_length == 32
    # The shortest prompt (no prefill), one per prefill length, the
    # longest (12 prefilled + 1).
    for length in (1, 3, 5, 13):
        prompt = np.arange(1, length + 1, dtype="int32")
        expected = model.generate(prompt, max_new_tokens=10, temperature=0)
        got = generator.generate(prompt, max_new_tokens=10)
        np.testing.assert_array_equal(got, expected)
    # A file opened afresh finds its signatures and cache.
    reopened = LiteRTGenerator(path)
    assert reopened.prefill_lengths == [4, 12]
    assert reopened.agreement is None


@pytest.mark.tensorflow_only
def test_float_file_generates_keras_tokens(llama_file):
    model, generator = llama_file
    _check_float_file(model, generator, generator.path)


@pytest.mark.full
@pytest.mark.tensorflow_only
def test_float_gpt2_style_file_generates_keras_tokens(tmp_path):
    model = _model(GPT2_STYLE)
    path = tmp_path / "lm.tflite"
    _check_float_file(model, to_litert_lm(model, path, (4, 12), 32), path)


@pytest.fixture(scope="module")
def counting_file(trained_lm, tmp_path_factory):
    """The trained model's float32 file: prefill 8, cache of 24."""
    folder = tmp_path_factory.mktemp("litert_lm")
    return to_litert_lm(
        trained_lm, folder / "float.tflite", (8,), cache_length=24
    )


@pytest.mark.tensorflow_only
def test_a_trained_models_int8_file_keeps_its_greedy_tokens(
    trained_lm, tmp_path
):
    # Per push, at the real bar: to_litert_lm raises below 95 % agreement.
    quantized = to_litert_lm(
        trained_lm,
        tmp_path / "int8.tflite",
        prefill_lengths=(8,),
        cache_length=24,
        quantization="int8_weights",
    )
    assert quantized.agreement >= 0.95
    float_bytes = sum(int(np.prod(w.shape)) * 4 for w in trained_lm.weights)
    assert quantized.size < 0.35 * float_bytes, quantized.size / float_bytes


@pytest.mark.full
@pytest.mark.tensorflow_only
@pytest.mark.parametrize("quantization", ["float16", "dynamic", "int8_weights"])
def test_quantized_files_keep_the_greedy_tokens(
    quantization, trained_lm, counting_file, tmp_path
):
    float_file = counting_file
    quantized = to_litert_lm(
        trained_lm,
        tmp_path / f"{quantization}.tflite",
        prefill_lengths=(8,),
        cache_length=24,
        quantization=quantization,
    )
    # to_litert_lm raises below 95 %; the agreement is reported.
    assert quantized.agreement >= 0.95
    assert quantized.quantization == quantization
    ratio = quantized.size / float_file.size
    assert ratio < (0.55 if quantization == "float16" else 0.35), ratio


@pytest.mark.tensorflow_only
def test_int8_weights_file_stores_int8_and_computes_float(tmp_path):
    # Tied embeddings: the lookup and the output head share the table.
    model = _model(GPT2_STYLE)
    generator = to_litert_lm(
        model,
        tmp_path / "lm.tflite",
        prefill_lengths=(4,),
        cache_length=16,
        quantization="int8_weights",
        min_agreement=0.0,  # an untrained model's logits are near-ties
    )
    interpreter = ai_edge_litert.Interpreter(model_path=str(generator.path))
    # Every weight matrix, the token table included, is stored as int8
    # (the small learned position table stays float32).
    matrices = sorted(
        int(np.prod(w.shape))
        for w in model.weights
        if w.name in ("kernel", "embeddings") and "position" not in w.path
    )
    int8 = sorted(
        int(np.prod(detail["shape"]))
        for detail in interpreter.get_tensor_details()
        if detail["dtype"] == np.int8
    )
    assert [size for size in int8 if size in matrices] == matrices
    # One decode step from an empty cache: the file's logits are Keras's
    # up to the int8 rounding of the weights.
    decode = interpreter.get_signature_runner("decode")
    cache_shape = decode.get_input_details()["kv_cache"]["shape"]
    token = np.array([[7]], "int32")
    logits = decode(
        token=token,
        position=np.int32(0),
        kv_cache=np.zeros(cache_shape, "float32"),
    )["logits"]
    expected = model.predict(token, verbose=0)[:, -1]
    error = np.abs(logits - expected).max()
    assert 0 < error < 0.05 * np.abs(expected).max(), error


@pytest.mark.tensorflow_only
def test_sampling_is_seeded_and_top_k_1_is_greedy(llama_file):
    _, generator = llama_file
    prompt = [5, 6, 7]
    first = generator.generate(prompt, 12, temperature=1.0, seed=3)
    again = generator.generate(prompt, 12, temperature=1.0, seed=3)
    np.testing.assert_array_equal(first, again)
    greedy = generator.generate(prompt, 12)
    np.testing.assert_array_equal(
        generator.generate(prompt, 12, temperature=0.7, top_k=1, seed=1),
        greedy,
    )
    # Low temperature is greedy; temperature 1 on an untrained model is
    # not (fails if the temperature were ignored).
    np.testing.assert_array_equal(
        generator.generate(prompt, 12, temperature=1e-4, seed=3), greedy
    )
    assert not np.array_equal(first, greedy)
    speed = generator.speed(prompt_length=5, new_tokens=3, runs=1)
    assert set(speed) == {"prefill", "decode"}
    assert min(speed.values()) > 0


@pytest.mark.tensorflow_only
def test_the_file_pads_after_the_end_token_as_generate_does(llama_file):
    model, generator = llama_file
    prompt = np.array([5, 6, 7], "int32")
    greedy = model.generate(prompt, 12, temperature=0)
    end = int(greedy[5])  # the third generated token
    for pad in (0, -1):
        expected = model.generate(
            prompt, 12, temperature=0, end_token_id=end, pad_token_id=pad
        )
        got = generator.generate(prompt, 12, end_token_id=end, pad_token_id=pad)
        np.testing.assert_array_equal(got, expected)
        assert got.shape == (15,) and (got[6:] == pad).all()


@pytest.mark.tensorflow_only
def test_prompts_and_lengths_the_file_cannot_take_are_named(
    llama_file, tmp_path
):
    model, generator = llama_file
    with pytest.raises(ValueError, match=r"has 14 tokens; this file takes 1"):
        generator.generate(np.arange(14), 2)
    with pytest.raises(ValueError, match=r"exceeds the file's cache of 32"):
        generator.generate(np.arange(5), 28)
    with pytest.raises(ValueError, match=r"generate: `top_p` must be None"):
        generator.generate(np.arange(5), 2, temperature=1.0, top_p=1.5)
    with pytest.raises(ValueError, match=r"`temperature` must be a number"):
        generator.generate(np.arange(5), 2, temperature=-1)
    with pytest.raises(ValueError, match=r"`quantization` must be one of"):
        to_litert_lm(model, tmp_path / "x.tflite", quantization="int4")
    with pytest.raises(ValueError, match=r"`prefill_lengths` must be"):
        to_litert_lm(
            model,
            tmp_path / "x.tflite",
            prefill_lengths=(16,),
            cache_length=16,
        )
    with pytest.raises(ValueError, match=r"expected a kerasbig CausalLM"):
        to_litert_lm(keras.Sequential([keras.Input((3,))]), tmp_path / "x")


def test_other_backends_are_told_how_to_convert(tmp_path):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("the message is for JAX and PyTorch")
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
        to_litert_lm(_model(LLAMA_STYLE), tmp_path / "lm.tflite")


@pytest.mark.tensorflow_only
@requires(transformers, "transformers torch")
def test_hugging_face_checkpoint_to_a_litert_file(tmp_path):
    # The whole path: a transformers Llama, loaded by kerasbig, exported;
    # the file's greedy tokens equal transformers' own generate().
    reference_model = save_tiny_llama(
        tmp_path / "llama", VOCABULARY, initializer_range=0.2
    )
    model = CausalLM.from_pretrained(tmp_path / "llama")
    generator = to_litert_lm(model, tmp_path / "llama.tflite", (8,))
    prompt = np.array([3, 14, 15, 9, 2], "int32")
    with torch.no_grad():
        expected = reference_model.generate(
            torch.tensor(prompt[None]),
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=0,
        )[0].numpy()
    np.testing.assert_array_equal(generator.generate(prompt, 12), expected)
