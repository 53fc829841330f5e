import json

import numpy as np
import pytest
from references import reference
from references import requires

transformers = reference("transformers")
tokenizers = reference("tokenizers")


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


def _tiny_llama(folder, vocabulary_size):
    import torch

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=vocabulary_size,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)


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
    _tiny_llama(folder, vocabulary_size=64)
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
    }
    # Query (32 -> 4 heads x 8) and value (32 -> 2 x 8) adapters, 2 blocks.
    adapters = 2 * ((32 * 4 * 4 + 4 * 8) + (32 * 2 * 4 + 4 * 8))
    assert report["trainable_parameters"] == adapters
    assert (out / "adapters.npz").is_file()
    # The merged model, as a Hugging Face folder transformers loads.
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(
        out / "hugging_face"
    )
    import keras
    import torch

    ids = np.array([[1, 2, 3, 4]])
    merged = keras.saving.load_model(out / "model.keras")
    with torch.no_grad():
        expected = reloaded(torch.tensor(ids)).logits.numpy()
    np.testing.assert_allclose(
        merged.predict(ids, verbose=0), expected, atol=1e-4
    )


def test_bad_data_lines_name_the_file_and_line(load_recipe, tmp_path):
    data = _jsonl(tmp_path / "bad.jsonl", PAIRS[:3])
    with open(data, "a") as file:
        file.write('{"prompt": "only a prompt"}\n')
    recipe = load_recipe("causal_lm_finetune")
    with pytest.raises(
        ValueError, match=r"bad.jsonl line 4: expected an object with string"
    ):
        recipe.main(
            [
                "--smoke",
                "--data",
                str(data),
                "--output-dir",
                str(tmp_path / "o"),
            ]
        )


def test_model_or_from_scratch_is_required(load_recipe, tmp_path):
    recipe = load_recipe("causal_lm_finetune")
    with pytest.raises(ValueError, match="pass either --model DIR"):
        recipe.main(["--output-dir", str(tmp_path)])


def test_text_shorter_than_a_sequence_is_named(load_recipe, tmp_path):
    data = tmp_path / "short.txt"
    data.write_text("too short")
    recipe = load_recipe("causal_lm_finetune")
    with pytest.raises(ValueError, match=r"has 9 tokens; one training"):
        recipe.main(
            [
                "--smoke",
                "--data",
                str(data),
                "--output-dir",
                str(tmp_path / "o"),
            ]
        )


@pytest.mark.full
@pytest.mark.tensorflow_only
def test_export_litert_reports_every_file(load_recipe, tmp_path):
    recipe = load_recipe("causal_lm_finetune")
    report = recipe.main(
        ["--smoke", "--export-litert", "--output-dir", str(tmp_path)]
    )
    rows = report["litert"]
    assert set(rows) == {"float32", "float16", "dynamic"}
    assert rows["float32"]["agreement"] == 1.0
    for name, row in rows.items():
        assert (tmp_path / f"lm_{name}.tflite").stat().st_size == row["bytes"]
        assert row["decode_tokens_per_second"] > 0
