"""Saving a model's noise seed with its weights."""

import numpy as np

SEED_STATE_KEY = "seed_generator_state"


class SavesSeedState:
    """Mixin for a `keras.Model` that draws noise from
    `self.seed_generator` during training.

    Keras leaves seed generator states out of saved weights, so a model
    reloaded from `.keras` (or resumed by `BackupAndRestore`) would draw
    the noise of step 0 again. Saving the state with the model's own
    variables makes a resumed run continue exactly where it stopped.
    """

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[SEED_STATE_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if SEED_STATE_KEY in keys:
            self.seed_generator.state.assign(np.asarray(store[SEED_STATE_KEY]))
        super().load_own_variables(
            {key: store[key] for key in keys if key != SEED_STATE_KEY}
        )
