"""Causal LM fine-tuning: a Hugging Face checkpoint with LoRA, or from scratch.

Loads a Hugging Face model folder (`--model`: gpt2, llama, mistral or
qwen2, with `CausalLM.from_pretrained`) and fine-tunes LoRA adapters on
its attention projections with plain `model.fit()` (`--lora-rank 0`
trains every weight), or, without `--model`, trains a small model from
scratch. Text is tokenised with the folder's `tokenizer.json` (the
`tokenizers` library) or else its SentencePiece `tokenizer.model` (Llama
2, Mistral; the `sentencepiece` library), with the BOS/EOS ids its
`tokenizer_config.json` says; a folder with neither is refused unless
`--byte-tokens` asks for UTF-8 byte ids (from scratch they are bytes).

Data (`--data`): a `.txt` file (trained on all of it, in windows of
`--sequence-length` tokens) or a `.jsonl` file of `{"prompt": ...,
"completion": ...}` lines (trained on the completions only). Without
`--data` it trains on the Zen of Python, which ships with Python, so a
run needs no network.

    python -m kerasbig.recipes.causal_lm_finetune          # from scratch
    python -m kerasbig.recipes.causal_lm_finetune --smoke  # seconds
    # a local folder, e.g. from `hf download Qwen/Qwen2.5-0.5B
    # --local-dir Qwen2.5-0.5B`:
    python -m kerasbig.recipes.causal_lm_finetune --model ./Qwen2.5-0.5B \\
        --data train.jsonl --epochs 2 --export-litert
    python -m kerasbig.recipes.causal_lm_finetune --data book.txt \\
        --epochs 20

With `--strategy model_parallel --mesh DATAxMODEL` (JAX) every weight
is sharded over a mesh of devices (`kerasbig.distribute.layout_map`),
for a model bigger than one device; the checkpoints load anywhere:

    XLA_FLAGS=--xla_force_host_platform_device_count=8 KERAS_BACKEND=jax \\
        python -m kerasbig.recipes.causal_lm_finetune \\
        --strategy model_parallel --mesh 2x4

Outputs in --output-dir: model.keras (adapters merged), adapter/ (the
LoRA adapters as a PEFT adapter folder, for Llama-family models, which
`peft.PeftModel.from_pretrained` loads and --lora-from continues from),
hugging_face/ (with --model: the merged model as a Hugging Face
folder with the tokenizer files, generation_config.json and the
bos/eos ids, which AutoTokenizer and AutoModelForCausalLM load),
best.keras, log.csv, tensorboard/, curves.png, metrics.json and
report.md (test perplexity, a sample continuation, the export table)
and, with
--export-litert, lm_float32.tflite, lm_float16.tflite, lm_dynamic.tflite
and lm_int8_weights.tflite (`to_litert_lm`, with size, agreement with Keras and
tokens/s in the report). A killed run resumes from its last finished
epoch when the same command runs again.
"""

import codecs
import dataclasses
import json
import math
import pathlib
import shutil
import time

from kerasbig.training import ModelParallelConfig
from kerasbig.training import TrainingConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config


@dataclasses.dataclass
class Config(ModelParallelConfig, TrainingConfig):
    model: str = option(
        "",
        "a local Hugging Face model folder (config.json, safetensors, and "
        "tokenizer.json or tokenizer.model for its tokens); without it, a "
        "small model is trained from scratch",
    )
    from_scratch: bool = option(
        False, "say that no --model is used (the default without --model)"
    )
    byte_tokens: bool = option(
        False,
        "with a --model folder that has no tokenizer.json or "
        "tokenizer.model: train on UTF-8 byte ids (0-255) instead of "
        "refusing",
    )
    data: str = option(
        "",
        "a .txt file or a .jsonl file of prompt/completion lines; "
        "default: the Zen of Python",
    )
    epochs: int = option(3, "passes over the training windows", minimum=1)
    batch_size: int = option(8, "sequences per step", minimum=1)
    learning_rate: float = option(1e-3, "Adam learning rate", greater_than=0)
    output_dir: str = option("runs/causal_lm_finetune", "where outputs go")
    sequence_length: int = option(
        128, "tokens per training sequence", minimum=8
    )
    validation_fraction: float = option(
        0.1,
        "share of the sequences held out for validation, and again for the "
        "test perplexity (so below 0.5)",
        greater_than=0,
        less_than=0.5,
    )
    lora_rank: int = option(
        8, "LoRA rank with --model; 0 trains every weight", minimum=0
    )
    lora_alpha: float = option(16.0, "LoRA scale numerator", greater_than=0)
    lora_targets: str = option(
        "query,value",
        "comma-separated projections that get adapters (query, key, value, "
        "attention_output, gate, up, down)",
    )
    lora_dropout: float = option(
        0.0,
        "dropout on the adapters' inputs in training (PEFT's lora_dropout)",
        minimum=0,
        less_than=1,
    )
    lora_from: str = option(
        "",
        "a PEFT LoRA adapter folder (adapter_config.json and "
        "adapter_model.safetensors, from peft or an earlier run's adapter/) "
        "to continue training; its rank, alpha and targets are used",
    )
    num_layers: int = option(2, "blocks, from scratch", minimum=1)
    hidden_dim: int = option(128, "model width, from scratch", minimum=8)
    num_heads: int = option(4, "attention heads, from scratch", minimum=1)
    intermediate_dim: int = option(
        256, "feed-forward width, from scratch", minimum=8
    )
    prompt: str = option(
        "Beautiful is", "text the report continues, as a sample"
    )
    max_new_tokens: int = option(
        32, "tokens the sample continues the prompt by", minimum=1
    )


SMOKE = {
    "epochs": 1,
    "sequence_length": 32,
    "num_layers": 1,
    "hidden_dim": 32,
    "intermediate_dim": 64,
    "max_new_tokens": 8,
}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.models import CausalLM
from kerasbig.training import accumulate_gradients
from kerasbig.training import check_export_backend
from kerasbig.training import fit_to_folder
from kerasbig.training import resolve_jit_compile
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import write_report

IGNORED = -1
"""The label of positions the loss skips (prompts, padding)."""


class ByteTokenizer:
    """UTF-8 bytes as token ids 0-255, for folders without a tokenizer."""

    vocabulary_size = 256
    name = "bytes"
    begin = end = ()  # no special ids around a text

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(int(i) for i in ids if 0 <= i < 256).decode(
            "utf-8", errors="replace"
        )


def _special_ids(folder, token_id, begin, end):
    """`(begin, end)`: the ids the checkpoint puts before and after a
    text. `tokenizer_config.json`'s `add_bos_token` / `add_eos_token`
    (with its `bos_token` / `eos_token`) decide where it says; else
    `begin` and `end`, the tokenizer's own rule."""
    path = folder / "tokenizer_config.json"
    settings = json.loads(path.read_text()) if path.is_file() else {}

    def ids(flag, token, default):
        if flag not in settings:
            return tuple(default)
        if not settings[flag]:
            return ()
        text = settings.get(token)
        text = text.get("content") if isinstance(text, dict) else text
        found = token_id(text) if text is not None else None
        if found is None:
            raise ValueError(
                f"--model: {path} sets {flag} but its {token} "
                f"{text!r} is not in the tokenizer's vocabulary"
            )
        return (found,)

    return (
        ids("add_bos_token", "bos_token", begin),
        ids("add_eos_token", "eos_token", end),
    )


class FolderTokenizer:
    """A Hugging Face `tokenizer.json`, through `tokenizers`; the ids
    around a text are those its post-processor adds (a Llama 3's BOS),
    unless `tokenizer_config.json` says otherwise."""

    name = "tokenizer.json"

    def __init__(self, path):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self.vocabulary_size = self._tokenizer.get_vocab_size()
        plain = self.encode("a")
        special = self._tokenizer.encode("a", add_special_tokens=True).ids
        start = next(
            (
                i
                for i in range(len(special))
                if special[i:][: len(plain)] == plain
            ),
            0,
        )
        self.begin, self.end = _special_ids(
            path.parent,
            self._tokenizer.token_to_id,
            special[:start],
            special[start + len(plain) :],
        )

    def encode(self, text):
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self._tokenizer.decode([int(i) for i in ids])


class SentencePieceTokenizer:
    """A SentencePiece `tokenizer.model` (Llama 2, Mistral), through
    `sentencepiece`; BOS before each text and no EOS, as their
    tokenizers add them, unless `tokenizer_config.json` says otherwise."""

    name = "tokenizer.model"

    def __init__(self, path):
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(
            model_file=str(path)
        )
        self.vocabulary_size = self._processor.get_piece_size()

        def token_id(piece):
            found = self._processor.piece_to_id(piece)
            return None if found == self._processor.unk_id() else found

        bos = self._processor.bos_id()
        self.begin, self.end = _special_ids(
            path.parent, token_id, [bos] if bos >= 0 else [], []
        )

    def encode(self, text):
        return self._processor.encode(text)

    def decode(self, ids):
        # A model's vocabulary may be padded past the tokenizer's.
        size = self.vocabulary_size
        return self._processor.decode([int(i) for i in ids if 0 <= i < size])


def load_tokenizer(config):
    """The folder's `tokenizer.json`, else its SentencePiece
    `tokenizer.model`; UTF-8 bytes from scratch, or for a folder with
    neither only when `--byte-tokens` says so (a checkpoint trained on
    other ids would learn nonsense silently)."""
    if not config.model:
        return ByteTokenizer()
    folder = pathlib.Path(config.model)
    if (folder / "tokenizer.json").is_file():
        return FolderTokenizer(folder / "tokenizer.json")
    if (folder / "tokenizer.model").is_file():
        return SentencePieceTokenizer(folder / "tokenizer.model")
    if config.byte_tokens:
        return ByteTokenizer()
    raise ValueError(
        f"--model: {folder} has no tokenizer.json or tokenizer.model; pass "
        "--byte-tokens to train it on UTF-8 byte ids instead (ids 0-255 of "
        "its vocabulary)"
    )


def zen_of_python():
    """The Zen of Python, from the standard library's `this` module
    (which prints it when imported, so it is read without importing)."""
    import importlib.util

    spec = importlib.util.find_spec("this")
    source = pathlib.Path(spec.origin).read_text()
    scrambled = source.split('"""')[1]
    return codecs.decode(scrambled, "rot13")


def read_examples(path):
    """`(text, pairs)`: a `.txt` file's text, or a `.jsonl` file's
    `(prompt, completion)` pairs; bad lines name the file and line."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"--data: no file at {path}")
    if path.suffix != ".jsonl":
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise ValueError(f"--data: {path} holds no text")
        return text, None
    pairs = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path} line {number}: not JSON ({error})"
            ) from None
        if not (
            isinstance(row, dict)
            and isinstance(row.get("prompt"), str)
            and isinstance(row.get("completion"), str)
        ):
            raise ValueError(
                f"{path} line {number}: expected an object with string "
                f"'prompt' and 'completion'. Received: {line[:80]}"
            )
        pairs.append((row["prompt"], row["completion"]))
    if not pairs:
        raise ValueError(f"--data: {path} holds no prompt/completion lines")
    return None, pairs


def text_windows(tokens, length):
    """Overlapping windows of `length + 1` tokens (half a window apart):
    inputs and next-token labels."""
    if len(tokens) < length + 1:
        raise ValueError(
            f"--data: the text has {len(tokens)} tokens; one training "
            f"sequence needs {length + 1}. Lower --sequence-length"
        )
    step = max(1, length // 2)
    starts = range(0, len(tokens) - length, step)
    windows = np.array([tokens[s : s + length + 1] for s in starts], "int32")
    return windows[:, :-1], windows[:, 1:]


def completion_sequences(pairs, tokenizer, length):
    """Prompt + completion token rows, right-padded or cut to `length + 1`;
    labels skip the prompt and the padding."""
    x = np.zeros((len(pairs), length), "int32")
    y = np.full((len(pairs), length), IGNORED, "int32")
    for row, (prompt, completion) in enumerate(pairs):
        prompt_ids = [*tokenizer.begin, *tokenizer.encode(prompt)]
        ids = prompt_ids + tokenizer.encode(completion) + [*tokenizer.end]
        ids = ids[: length + 1]
        x[row, : len(ids) - 1] = ids[:-1]
        labels = np.array(ids[1:], "int32")
        labels[: max(len(prompt_ids) - 1, 0)] = IGNORED
        y[row, : len(labels)] = labels
    return x, y


def sequences(config, tokenizer, replicas=1):
    """`(x, y, (train, validation, test), padding)`: the token rows,
    their labels and the row indices of each split (validation picks the
    best epoch; the test split scores it).

    Every batch must split evenly over `replicas` (a mesh's data axis),
    so the held-out splits are multiples of it and the training split is
    topped up with `padding` rows whose labels the loss skips (a batch's
    loss is the mean over the labels it does not skip: the gradient is
    unchanged)."""
    text, pairs = (
        read_examples(config.data) if config.data else (zen_of_python(), None)
    )
    if pairs is None:
        tokens = [*tokenizer.begin, *tokenizer.encode(text), *tokenizer.end]
        x, y = text_windows(tokens, config.sequence_length)
    else:
        x, y = completion_sequences(pairs, tokenizer, config.sequence_length)
    held = max(1, round(config.validation_fraction * len(x)))
    held = -(-held // replicas) * replicas
    if len(x) < 2 * held + 1:
        raise ValueError(
            f"--data: {len(x)} sequences; at least {2 * held + 1} are "
            f"needed (training, and {held} each for validation and test "
            f"at --validation-fraction {config.validation_fraction}). Lower "
            "--sequence-length or --validation-fraction, or add data"
        )
    order = np.random.default_rng(config.seed).permutation(len(x))
    train = order[2 * held :]
    padding = -len(train) % replicas
    if padding:
        x = np.concatenate([x, np.zeros((padding, x.shape[1]), x.dtype)])
        y = np.concatenate([y, np.full((padding, y.shape[1]), IGNORED)])
        train = np.concatenate([train, np.arange(len(x) - padding, len(x))])
    splits = (train, order[held : 2 * held], order[:held])
    return x, y.astype("int32"), splits, padding


def build_model(config, tokenizer, load_weights=True):
    """The model to train; `load_weights=False` builds `--model`'s
    architecture only (the layout template of `--strategy
    model_parallel`)."""
    if config.model:
        model = CausalLM.from_pretrained(
            config.model, load_weights=load_weights
        )
        if not load_weights:
            return model
        if tokenizer.vocabulary_size > model.vocabulary_size:
            raise ValueError(
                f"--model: the tokenizer has {tokenizer.vocabulary_size} "
                f"ids but the model's vocabulary has {model.vocabulary_size}"
            )
        if config.lora_from:
            model.load_lora_weights(config.lora_from)
        elif config.lora_rank:
            model.enable_lora(
                config.lora_rank,
                config.lora_alpha,
                [t.strip() for t in config.lora_targets.split(",")],
                dropout=config.lora_dropout,
                seed=config.seed,
            )
        return model
    return CausalLM(
        vocabulary_size=tokenizer.vocabulary_size,
        max_sequence_length=config.sequence_length + config.max_new_tokens,
        num_layers=config.num_layers,
        hidden_dim=config.hidden_dim,
        num_heads=config.num_heads,
        intermediate_dim=config.intermediate_dim,
    )


# The files of a Hugging Face folder that describe its tokenizer.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)
SPECIAL_IDS = ("bos_token_id", "eos_token_id", "pad_token_id")


def write_hugging_face_folder(model, source, target):
    """The trained model as a complete Hugging Face folder: weights and
    config (`save_pretrained`), `--model`'s special token ids and
    tokenizer files, and `generation_config.json`, so that
    `AutoTokenizer` and `AutoModelForCausalLM` load it."""
    model.save_pretrained(target)
    source_config = json.loads((source / "config.json").read_text())
    special = {k: source_config[k] for k in SPECIAL_IDS if k in source_config}
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(
        json.dumps({**config, **special}, indent=2) + "\n"
    )
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
    if (
        not (target / "tokenizer_config.json").exists()
        and (target / "tokenizer.json").exists()
    ):
        # A bare tokenizer.json: AutoTokenizer loads it as the fast
        # tokenizer it is, not as the architecture's own class.
        (target / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"}) + "\n"
        )
    if (source / "generation_config.json").is_file():
        shutil.copyfile(
            source / "generation_config.json",
            target / "generation_config.json",
        )
    else:
        (target / "generation_config.json").write_text(
            json.dumps({**special, "_from_model_config": True}, indent=2) + "\n"
        )


def export_files(model, output_dir, config):
    """The on-device files (`to_litert_lm`), one per quantization, with
    what each weighs, agrees and runs at."""
    from kerasbig.export import to_litert_lm
    from kerasbig.export.litert_lm import LM_QUANTIZATIONS

    length = min(32, config.sequence_length)
    rows = {}
    for quantization in LM_QUANTIZATIONS:
        name = quantization or "float32"
        generator = to_litert_lm(
            model,
            output_dir / f"lm_{name}.tflite",
            prefill_lengths=(length,),
            cache_length=length + config.max_new_tokens + 1,
            quantization=quantization,
            verify_new_tokens=min(16, config.max_new_tokens),
            # float32 must generate Keras's tokens; a quantized file's
            # agreement is reported (an undertrained model's near-ties
            # flip under quantization).
            min_agreement=None if quantization is None else 0.0,
        )
        speed = generator.speed(length + 1, config.max_new_tokens)
        rows[name] = {
            "bytes": generator.size,
            "agreement": generator.agreement,
            "prefill_tokens_per_second": round(speed["prefill"], 1),
            "decode_tokens_per_second": round(speed["decode"], 1),
        }
    return rows


# Flags that apply to one mode only: LoRA to --model runs, the shape of a
# new model to runs from scratch.
LORA_FLAGS = (
    "lora_rank",
    "lora_alpha",
    "lora_targets",
    "lora_dropout",
    "lora_from",
)
# What an adapter folder given with --lora-from decides itself.
ADAPTER_FLAGS = ("lora_rank", "lora_alpha", "lora_targets")
SCRATCH_FLAGS = ("num_layers", "hidden_dim", "num_heads", "intermediate_dim")


def check_mode_flags(config):
    """Refuses flags that do not apply to this run's mode, naming them."""
    if config.model and config.from_scratch:
        raise ValueError(
            "--from-scratch trains a new model; --model loads one. Pass one "
            f"of them. Received: --model {config.model} --from-scratch"
        )
    # A flag counts as given when its value is neither the default nor
    # --smoke's.
    baselines = (Config(), parse_config(Config, ["--smoke"], smoke=SMOKE))

    def given_flags(names):
        return [
            f"--{name.replace('_', '-')} {getattr(config, name)}"
            for name in names
            if all(getattr(config, name) != getattr(b, name) for b in baselines)
        ]

    given = given_flags(SCRATCH_FLAGS if config.model else LORA_FLAGS)
    adapter_given = given_flags(ADAPTER_FLAGS) if config.lora_from else []
    if adapter_given and not given:
        raise ValueError(
            f"{', '.join(adapter_given)} does not apply with --lora-from "
            "(the adapter's own settings are used)"
        )
    if given:
        mode = (
            "a --model run (the model's own shape is used)"
            if config.model
            else "a run from scratch (LoRA adapts a --model)"
        )
        raise ValueError(f"{', '.join(given)} does not apply to {mode}")


def export_table(rows):
    """The on-device files as a Markdown table."""
    lines = [
        "| file | KB | agreement with Keras | prefill tok/s | decode tok/s |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| lm_{name}.tflite | {row['bytes'] / 1024:.1f} | "
        f"{row['agreement']:.1%} | {row['prefill_tokens_per_second']} | "
        f"{row['decode_tokens_per_second']} |"
        for name, row in rows.items()
    ]
    return "\n".join(lines)


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {"matplotlib": "training curves"}
    if config.model:
        needs["safetensors"] = "--model's weights"
        folder = pathlib.Path(config.model)
        if (folder / "tokenizer.json").is_file():
            needs["tokenizers"] = "--model's tokenizer.json"
        elif (folder / "tokenizer.model").is_file():
            needs["sentencepiece"] = "--model's tokenizer.model"
    if config.export_litert:
        needs["ai_edge_litert"] = "checking the .tflite files"
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    check_mode_flags(config)
    check_export_backend(config.export_litert)
    tokenizer = load_tokenizer(config)
    with start_run(
        config,
        layout_model=lambda: build_model(config, tokenizer, load_weights=False),
    ) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        x, y, (train, validation, test), padding = sequences(
            config, tokenizer, run.distribution["replicas"]
        )
        with run.strategy.scope():
            model = build_model(config, tokenizer)
            model.compile(
                optimizer=accumulate_gradients(
                    keras.optimizers.Adam(config.learning_rate),
                    config.grad_accumulation,
                ),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, ignore_class=IGNORED
                ),
                jit_compile=resolve_jit_compile(config.jit_compile),
            )
        start = time.perf_counter()
        history, stopped = fit_to_folder(
            model,
            (x[train], y[train]),
            (x[validation], y[validation]),
            epochs=config.epochs,
            output_dir=output_dir,
            batch_size=config.batch_size,
            monitor="val_loss",
        )
        train_seconds = time.perf_counter() - start
        if stopped:
            raise TrainingStopped(stopped)
        test_loss = float(
            model.evaluate(
                x[test], y[test], batch_size=config.batch_size, verbose=0
            )
        )
        results = {
            "epochs": len(history.get("epoch", [])),
            "train_seconds": round(train_seconds, 2),
            "examples": {
                "train": len(train) - padding,
                "validation": len(validation),
                "test": len(test),
            },
            "tokenizer": tokenizer.name,
            "best_val_loss": min(history.get("val_loss", [math.inf])),
            "test_loss": test_loss,
            "test_perplexity": math.exp(min(test_loss, 50.0)),
            "trainable_parameters": int(
                sum(np.prod(w.shape) for w in model.trainable_weights)
            ),
        }
        if model.lora_config is not None:
            if model.position == "rotary":  # PEFT's Llama family
                model.save_lora_weights(output_dir / "adapter")
            results["lora"] = model.lora_config
            model = model.merge_lora()
            model.save(output_dir / "model.keras")
        if config.model:
            write_hugging_face_folder(
                model, pathlib.Path(config.model), output_dir / "hugging_face"
            )
        prompt_ids = np.array(
            [*tokenizer.begin, *tokenizer.encode(config.prompt)] or [0],
            "int32",
        )
        room = model.max_sequence_length - len(prompt_ids)
        continuation = model.generate(
            prompt_ids, min(config.max_new_tokens, room), temperature=0
        )
        results["sample"] = {
            "prompt": config.prompt,
            "greedy_continuation": tokenizer.decode(
                continuation[len(prompt_ids) :]
            ),
        }
        details = (
            f"Sample: {config.prompt!r} -> "
            f"{results['sample']['greedy_continuation']!r}"
        )
        if config.export_litert:
            results["litert"] = export_files(model, output_dir, config)
            details += "\n\n" + export_table(results["litert"])
        return write_report(
            output_dir,
            recipe="causal_lm_finetune",
            config=config,
            headline=("test_perplexity", results["test_perplexity"]),
            results=results,
            distribution=run.distribution,
            summary=f"{len(test)} held-out sequences",
            details=details,
        )


if __name__ == "__main__":
    run_script(main)
