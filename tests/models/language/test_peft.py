"""CausalLM's LoRA against PEFT both ways, on a tiny random transformers
Llama: an adapter made by `peft` loads into kerasbig with PEFT's logits,
and kerasbig's adapter folder loads into `peft` with kerasbig's logits;
on every backend (the references run on PyTorch)."""

import json

import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires
from references import save_tiny_llama

from kerasbig.models import CausalLM

torch = reference("torch")
transformers = reference("transformers")
peft = reference("peft")
needs_peft = requires(
    peft if transformers is not None else None, "peft transformers torch"
)

VOCABULARY = 64
IDS = np.random.default_rng(0).integers(0, VOCABULARY, (2, 11))
ALL_MODULES = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
]


def _logits(model):
    with torch.no_grad():
        return model(torch.tensor(IDS)).logits.numpy()


def _peft_adapter(base, folder, **settings):
    """A LoRA made by `peft` on `base`, its B random (as after training),
    saved in `folder`; returns the PEFT model."""
    torch.manual_seed(1)
    config = peft.LoraConfig(
        task_type="CAUSAL_LM", init_lora_weights=False, **settings
    )
    model = peft.get_peft_model(base, config).eval()
    model.save_pretrained(folder)
    return model


@needs_peft
def test_an_adapter_made_by_peft_gives_peft_logits(tmp_path):
    base = save_tiny_llama(tmp_path / "base", VOCABULARY)
    without = _logits(base)
    reference_model = _peft_adapter(
        base,
        tmp_path / "adapter",
        r=3,
        lora_alpha=5,
        target_modules=ALL_MODULES,
    )
    expected = _logits(reference_model)
    # The adapter moves the logits far above the tolerance.
    assert np.abs(expected - without).max() > 1e-2
    model = CausalLM.from_pretrained(tmp_path / "base")
    model.load_lora_weights(tmp_path / "adapter")
    assert model.lora_config == {
        "rank": 3,
        "alpha": 5,
        "targets": [
            "query",
            "key",
            "value",
            "attention_output",
            "gate",
            "up",
            "down",
        ],
        "dropout": 0.0,
    }
    np.testing.assert_allclose(
        model.predict(IDS, verbose=0), expected, atol=1e-4
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(IDS)), expected, atol=1e-4
    )


@needs_peft
def test_a_kerasbig_adapter_loads_in_peft_with_kerasbig_logits(tmp_path):
    base = save_tiny_llama(tmp_path / "base", VOCABULARY)
    model = CausalLM.from_pretrained(tmp_path / "base")
    model.enable_lora(
        rank=2, alpha=6, targets=("query", "value", "down"), seed=0
    )
    # B starts at zero: give every B values, as training would.
    rng = np.random.default_rng(2)
    for variable in model.trainable_weights:
        if variable.name == "lora_b":
            variable.assign(rng.normal(0, 0.3, variable.shape))
    expected = model.predict(IDS, verbose=0)
    assert np.abs(expected - _logits(base)).max() > 1e-2
    model.save_lora_weights(tmp_path / "ours")
    written = json.loads((tmp_path / "ours/adapter_config.json").read_text())
    assert written["target_modules"] == ["down_proj", "q_proj", "v_proj"]
    assert (written["r"], written["lora_alpha"]) == (2, 6)
    served = peft.PeftModel.from_pretrained(base, tmp_path / "ours").eval()
    np.testing.assert_allclose(_logits(served), expected, atol=1e-4)
    # Back into kerasbig: the same model.
    again = CausalLM.from_pretrained(tmp_path / "base")
    again.load_lora_weights(tmp_path / "ours")
    np.testing.assert_allclose(
        again.predict(IDS, verbose=0), expected, atol=1e-5
    )


@needs_peft
@pytest.mark.tensorflow_per_push
@pytest.mark.parametrize(
    "settings, message",
    [
        ({"use_dora": True}, "sets use_dora=True, which CausalLM's LoRA"),
        ({"bias": "lora_only"}, "sets bias='lora_only'"),
        ({"rank_pattern": {"q_proj": 4}}, "sets rank_pattern="),
    ],
)
def test_what_causal_lm_does_not_implement_is_named(
    tmp_path, settings, message
):
    base = save_tiny_llama(tmp_path / "base", VOCABULARY)
    _peft_adapter(
        base,
        tmp_path / "adapter",
        r=2,
        lora_alpha=4,
        target_modules=["q_proj", "v_proj"],
        **settings,
    )
    model = CausalLM.from_pretrained(tmp_path / "base")
    with pytest.raises(ValueError, match=message):
        model.load_lora_weights(tmp_path / "adapter")


@needs_peft
@pytest.mark.tensorflow_per_push
def test_rank_stabilized_adapters_keep_their_scale(tmp_path):
    base = save_tiny_llama(tmp_path / "base", VOCABULARY)
    reference_model = _peft_adapter(
        base,
        tmp_path / "adapter",
        r=4,
        lora_alpha=3,
        use_rslora=True,
        target_modules=["q_proj", "up_proj"],
    )
    model = CausalLM.from_pretrained(tmp_path / "base")
    model.load_lora_weights(tmp_path / "adapter")
    np.testing.assert_allclose(
        model.predict(IDS, verbose=0), _logits(reference_model), atol=1e-4
    )
