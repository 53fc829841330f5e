import json

import keras
import numpy as np
import pytest
from references import reference
from references import requires
from references import save_tiny_llama

transformers = reference("transformers")
tokenizers = reference("tokenizers")


@pytest.mark.tensorflow_per_push
def test_smoke_run_needs_no_network(
    load_recipe, check_report, tmp_path, capsys
):
    recipe = load_recipe("causal_lm_finetune")
    report = recipe.main(["--smoke", "--output-dir", str(tmp_path)])
    check_report(report, "causal_lm_finetune", tmp_path)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("causal_lm_finetune: test perplexity "), last
    # Bytes: a perplexity below the 256 of a uniform guess after training.
    assert report["tokenizer"] == "bytes"
    assert 1 < report["test_perplexity"] < 256
    assert report["sample"]["prompt"] == "Beautiful is"
    assert (tmp_path / "model.keras").is_file()
    assert "lora" not in report  # from scratch trains every weight


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


PAIRS = [
    {"prompt": f"Q: {a} plus {b}? A:", "completion": f" {a + b}."}
    for a in range(8)
    for b in range(4)
]


@pytest.mark.tensorflow_per_push
@requires(transformers, "transformers torch")
@requires(tokenizers, "tokenizers")
def test_hugging_face_model_with_its_tokenizer_and_lora(
    load_recipe, check_report, tmp_path
):
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    folder = tmp_path / "llama"
    save_tiny_llama(folder, 64, max_position_embeddings=128)
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(
        [row["prompt"] + row["completion"] for row in PAIRS],
        trainers.WordLevelTrainer(vocab_size=64, special_tokens=["[UNK]"]),
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    data = _jsonl(tmp_path / "sums.jsonl", PAIRS)
    out = tmp_path / "run"
    recipe = load_recipe("causal_lm_finetune")
    report = recipe.main(
        ["--model", str(folder), "--data", str(data), "--epochs", "2"]
        + ["--sequence-length", "16", "--lora-rank", "4"]
        + ["--prompt", "Q: 3 plus 2? A:", "--max-new-tokens", "3"]
        + ["--output-dir", str(out)]
    )
    check_report(report, "causal_lm_finetune", out)
    assert report["tokenizer"] == "tokenizer.json"
    assert report["lora"] == {
        "rank": 4,
        "alpha": 16.0,
        "targets": ["query", "value"],
        "dropout": 0.0,
    }
    # PEFT's query (32 -> 4 heads x 8) and value (32 -> 2 x 8) adapters:
    # A (32, 4) and B (4, out) each, 2 blocks.
    adapters = 2 * ((32 * 4 + 4 * 32) + (32 * 4 + 4 * 16))
    assert report["trainable_parameters"] == adapters
    # The trained adapters as a PEFT folder (B starts at zero, so zeros
    # mean untrained): PEFT on the base model gives the merged model's
    # logits (checked below against the Hugging Face folder).
    from safetensors.numpy import load_file

    arrays = load_file(out / "adapter" / "adapter_model.safetensors")
    for name, array in arrays.items():
        if "lora_B" in name:
            assert np.abs(array).max() > 0, name
    # The merged model, as a complete Hugging Face folder: transformers
    # loads the model and the tokenizer; the ids and modes are kept.
    folder_out = out / "hugging_face"
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(folder_out)
    tokens = transformers.AutoTokenizer.from_pretrained(folder_out)
    assert (
        tokens("Q: 3 plus 2? A:")["input_ids"]
        == tokenizer.encode("Q: 3 plus 2? A:").ids
    )
    source = json.loads((folder / "config.json").read_text())
    written = json.loads((folder_out / "config.json").read_text())
    for key in ("bos_token_id", "eos_token_id"):
        assert written[key] == source[key]
    # The checkpoint's own generation settings travel with it.
    assert (folder_out / "generation_config.json").read_text() == (
        folder / "generation_config.json"
    ).read_text()
    for path in folder_out.iterdir():
        assert path.stat().st_mode & 0o644 == 0o644, path
    import keras
    import torch

    ids = np.array([[1, 2, 3, 4]])
    merged = keras.saving.load_model(out / "model.keras")
    with torch.no_grad():
        expected = reloaded(torch.tensor(ids)).logits.numpy()
    np.testing.assert_allclose(
        merged.predict(ids, verbose=0), expected, atol=1e-4
    )
    peft = reference("peft")
    if peft is not None:
        base = transformers.AutoModelForCausalLM.from_pretrained(folder)
        served = peft.PeftModel.from_pretrained(base, out / "adapter").eval()
        with torch.no_grad():
            got = served(torch.tensor(ids)).logits.numpy()
        np.testing.assert_allclose(got, expected, atol=1e-4)
    # --lora-from continues from that adapter, with its settings.
    report = recipe.main(
        ["--model", str(folder), "--data", str(data), "--epochs", "1"]
        + ["--sequence-length", "16", "--lora-from", str(out / "adapter")]
        + ["--max-new-tokens", "3", "--output-dir", str(tmp_path / "more")]
    )
    assert report["lora"]["rank"] == 4
    with pytest.raises(ValueError, match="does not apply with --lora-from"):
        recipe.main(
            ["--model", str(folder), "--lora-from", str(out / "adapter")]
            + ["--lora-rank", "2", "--output-dir", str(tmp_path / "no")]
        )


BAD_JSONL = "".join(json.dumps(row) + "\n" for row in PAIRS[:3])


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "bad.jsonl",
            BAD_JSONL + '{"prompt": "only a prompt"}\n',
            r"bad.jsonl line 4: expected an object with string",
        ),
        ("broken.jsonl", BAD_JSONL + "{not json\n", r"broken.jsonl line 4:"),
        ("short.txt", "too short", r"has 9 tokens; one training sequence"),
    ],
)
def test_bad_data_is_named(name, content, message, load_recipe, tmp_path):
    data = tmp_path / name
    data.write_text(content)
    recipe = load_recipe("causal_lm_finetune")
    with pytest.raises(ValueError, match=message):
        recipe.main(
            ["--smoke", "--data", str(data), "--output-dir", str(tmp_path)]
        )


def test_splits_divide_evenly_over_a_data_axis(load_recipe):
    recipe = load_recipe("causal_lm_finetune")
    config = recipe.parse_config(recipe.Config, ["--smoke"], smoke=recipe.SMOKE)
    tokenizer = recipe.ByteTokenizer()
    rows = len(recipe.sequences(config, tokenizer)[0])
    for replicas in (2, 3, 4):
        x, y, (train, validation, test), padding = recipe.sequences(
            config, tokenizer, replicas
        )
        assert len(validation) == len(test)
        assert len(test) % replicas == len(train) % replicas == 0
        assert len(x) == rows + padding and padding < replicas
        # Every real row in one split, the padding rows' labels skipped.
        real = np.concatenate([train[train < rows], validation, test])
        assert sorted(real.tolist()) == list(range(rows))
        assert (y[rows:] == recipe.IGNORED).all()
    with pytest.raises(ValueError, match="at least .* are needed"):
        recipe.sequences(config, tokenizer, rows)


def test_model_parallel_flags_get_one_clear_line(load_recipe, tmp_path, capsys):
    recipe = load_recipe("causal_lm_finetune")
    run = ["--smoke", "--output-dir", str(tmp_path)]
    with pytest.raises(SystemExit):
        recipe.main([*run, "--strategy", "model_parallel", "--mesh", "2by4"])
    assert "argument --mesh: expected DATAxMODEL device counts" in (
        capsys.readouterr().err
    )
    with pytest.raises(ValueError, match="--mesh is for --strategy model_"):
        recipe.main([*run, "--mesh", "2x4"])
    with pytest.raises(ValueError, match="needs --mesh DATAxMODEL"):
        recipe.main([*run, "--strategy", "model_parallel"])
    # This process has one device; off JAX, the line names the backend.
    message = (
        "one device per slot; there are 1 devices"
        if keras.backend.backend() == "jax"
        else "KERAS_BACKEND=jax"
    )
    with pytest.raises(ValueError, match=message):
        recipe.main([*run, "--strategy", "model_parallel", "--mesh", "2x4"])


@pytest.mark.backend_agnostic
def test_no_flags_train_from_scratch_on_the_bundled_text(
    load_recipe, check_report, tmp_path
):
    recipe = load_recipe("causal_lm_finetune")
    report = recipe.main(["--output-dir", str(tmp_path)])
    check_report(report, "causal_lm_finetune", tmp_path)
    assert report["tokenizer"] == "bytes" and "lora" not in report
    assert report["config"]["num_layers"] == 2  # the defaults, not smoke's


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--lora-targets", "query,key"], "--lora-targets query,key does "),
        (["--lora-rank", "2"], "not apply to a run from scratch"),
        (
            ["--model", "m", "--num-layers", "3"],
            "--num-layers 3 does not apply to a --model run",
        ),
        (["--model", "m", "--from-scratch"], "Pass one of them"),
    ],
)
def test_flags_of_the_other_mode_are_refused(
    load_recipe, tmp_path, flags, message
):
    recipe = load_recipe("causal_lm_finetune")
    with pytest.raises(ValueError, match=message):
        recipe.main([*flags, "--smoke", "--output-dir", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


@pytest.mark.full
@pytest.mark.tensorflow_only
def test_export_litert_reports_every_file(load_recipe, tmp_path):
    recipe = load_recipe("causal_lm_finetune")
    report = recipe.main(
        ["--smoke", "--export-litert", "--output-dir", str(tmp_path)]
    )
    rows = report["litert"]
    assert set(rows) == {"float32", "float16", "dynamic", "int8_weights"}
    assert rows["float32"]["agreement"] == 1.0
    for name, row in rows.items():
        assert (tmp_path / f"lm_{name}.tflite").stat().st_size == row["bytes"]
        assert row["decode_tokens_per_second"] > 0


@pytest.mark.full
@pytest.mark.tensorflow_only
@requires(transformers, "transformers torch")
def test_a_killed_lora_run_resumes_and_matches(kill_and_resume, tmp_path):
    # Bytes as tokens (no tokenizer.json): the vocabulary covers 256.
    folder = tmp_path / "llama"
    save_tiny_llama(folder, 260, max_position_embeddings=64)
    data = _jsonl(tmp_path / "sums.jsonl", PAIRS)
    # Several shuffled batches per epoch: a resumed process must draw the
    # orders the uninterrupted one drew (ArrayBatches' (seed, epoch)).
    args = ["--model", str(folder), "--byte-tokens", "--data", str(data)]
    args += ["--epochs", "3", "--sequence-length", "24", "--lora-rank", "4"]
    args += ["--batch-size", "8", "--learning-rate", "0.01"]
    args += ["--max-new-tokens", "3"]
    resumed, uninterrupted = kill_and_resume("causal_lm_finetune", args, 3)
    assert resumed["epochs"] == uninterrupted["epochs"] == 3
    assert resumed["lora"] == uninterrupted["lora"]
    np.testing.assert_allclose(
        resumed["test_loss"], uninterrupted["test_loss"], rtol=1e-4
    )


@pytest.mark.full
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="ModelParallel is JAX's"
)
def test_a_model_parallel_run_resumes_and_loads_on_one_device(
    kill_and_resume, load_recipe, tmp_path
):
    # Weights sharded over a 2x4 mesh of 8 host devices, killed when
    # epoch 2 starts and run again; the model it saves then loads in
    # this one-device process and scores the test split as the run did.
    args = ["--smoke", "--epochs", "3"]
    args += ["--strategy", "model_parallel", "--mesh", "2x4"]
    devices = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    resumed, uninterrupted = kill_and_resume(
        "causal_lm_finetune", args, 3, devices
    )
    for report in (resumed, uninterrupted):
        assert report["distribution"]["strategy"] == "ModelParallel"
        assert report["distribution"]["replicas"] == 2
        assert report["epochs"] == 3
    np.testing.assert_allclose(
        resumed["test_loss"], uninterrupted["test_loss"], rtol=1e-5
    )
    recipe = load_recipe("causal_lm_finetune")
    config = recipe.parse_config(recipe.Config, args, smoke=recipe.SMOKE)
    x, y, (_, _, test), _ = recipe.sequences(config, recipe.ByteTokenizer(), 2)
    assert keras.distribution.distribution() is None
    model = keras.saving.load_model(tmp_path / "killed" / "model.keras")
    loss = model.evaluate(x[test], y[test], batch_size=8, verbose=0)
    np.testing.assert_allclose(loss, resumed["test_loss"], rtol=1e-5)


@pytest.mark.backend_agnostic
def test_a_validation_fraction_that_leaves_no_training_names_its_flag(
    load_recipe, tmp_path, capsys
):
    recipe = load_recipe("causal_lm_finetune")
    with pytest.raises(SystemExit):
        recipe.main(["--validation-fraction", "0.6", "--output-dir", "x"])
    assert "argument --validation-fraction: expected a value > 0 and < 0.5" in (
        capsys.readouterr().err
    )


@requires(transformers, "transformers torch")
@pytest.mark.backend_agnostic
def test_a_folder_without_a_tokenizer_is_refused_unless_byte_tokens(
    load_recipe, tmp_path
):
    # Training on byte ids against a checkpoint's own vocabulary would be
    # silently wrong.
    folder = tmp_path / "llama"
    save_tiny_llama(folder, 300, max_position_embeddings=128)
    recipe = load_recipe("causal_lm_finetune")
    flags = ["--model", str(folder), "--smoke", "--sequence-length", "16"]
    with pytest.raises(ValueError, match="no tokenizer.json or tokenizer.m"):
        recipe.main([*flags, "--output-dir", str(tmp_path / "a")])
    assert not (tmp_path / "a").exists()
    report = recipe.main(
        [*flags, "--byte-tokens", "--output-dir", str(tmp_path / "b")]
    )
    assert report["tokenizer"] == "bytes"


def _sentencepiece_folder(folder, **settings):
    """A tiny SentencePiece BPE tokenizer.model (Llama 2's kind, BOS 1,
    EOS 2) and a tokenizer_config.json with `settings`, in `folder`."""
    import sentencepiece

    corpus = folder / "corpus.txt"
    corpus.write_text(
        "\n".join(p["prompt"] + p["completion"] for p in PAIRS)
        + "\nBeautiful is better than ugly."
    )
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=60,
        model_type="bpe",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        # Llama 2's normalisation: text as written, spaces kept.
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        minloglevel=2,
    )
    corpus.unlink()
    (folder / "tokenizer.vocab").unlink()
    # As Llama 2's tokenizer_config.json says.
    config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True}
    config.update(add_eos_token=False, bos_token="<s>", eos_token="</s>")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({**config, **settings})
    )


@requires(transformers, "transformers torch")
@requires(reference("sentencepiece"), "sentencepiece")
@pytest.mark.tensorflow_per_push
def test_a_sentencepiece_folder_trains_on_its_ids_with_its_bos(
    load_recipe, check_report, tmp_path
):
    folder = tmp_path / "llama"
    save_tiny_llama(folder, 300, max_position_embeddings=128)
    _sentencepiece_folder(folder)
    recipe = load_recipe("causal_lm_finetune")
    tokenizer = recipe.SentencePieceTokenizer(folder / "tokenizer.model")
    reference_tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    for text in ("Q: 3 plus 2? A: 5.", "Beautiful is", "better  than ugly"):
        assert [*tokenizer.begin, *tokenizer.encode(text)] == (
            reference_tokenizer(text)["input_ids"]
        ), text
    assert tokenizer.begin == (1,) and tokenizer.end == ()
    out = tmp_path / "run"
    data = _jsonl(tmp_path / "sums.jsonl", PAIRS)
    report = recipe.main(
        ["--model", str(folder), "--data", str(data), "--epochs", "1"]
        + ["--sequence-length", "16", "--max-new-tokens", "3"]
        + ["--output-dir", str(out)]
    )
    check_report(report, "causal_lm_finetune", out)
    assert report["tokenizer"] == "tokenizer.model"
    # The tokenizer travels with the merged model.
    again = transformers.AutoTokenizer.from_pretrained(out / "hugging_face")
    assert (
        again("Beautiful is")["input_ids"]
        == (reference_tokenizer("Beautiful is")["input_ids"])
    )
    # tokenizer_config.json decides where it says: EOS after, no BOS.
    other = tmp_path / "other"
    other.mkdir()
    _sentencepiece_folder(other, add_bos_token=False, add_eos_token=True)
    tokenizer = recipe.SentencePieceTokenizer(other / "tokenizer.model")
    assert (tokenizer.begin, tokenizer.end) == ((), (2,))
