"""The exceptions a run raises where a program would stop:
`RunInterrupted` (Ctrl-C, with where to resume) and `TrainingStopped` (a
NaN loss). `run_script` turns them into an exit status. Standard library
only: recipes import them before Keras loads."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C in a run's training, with the epoch it stopped in and how
    to resume it as its message (`explain_interruption`)."""


class TrainingStopped(RuntimeError):
    """Training stopped before its last epoch (a NaN loss: see
    `kerasbig.callbacks.StopOnNaN`); the message says why and where the
    last good model is."""
